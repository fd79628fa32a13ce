// Marks one version requirement of an ELF shared library as weak, so the dynamic loader accepts the
// library on a system whose libstdc++ lacks that version.
//
// Why: TorchSharp 0.107's native shim libLibTorchSharp.so is linked against GCC 13's libstdc++ and so
// requires GLIBCXX_3.4.32; Debian 12 ships GCC 12 (up to GLIBCXX_3.4.30). The only symbol bound to that
// version is _ZSt21ios_base_library_initv, which the shim never calls. glibc's loader treats a missing
// version whose Vernaux entry carries VER_FLG_WEAK as non-fatal (elf/dl-version.c, match_symbol), so
// setting that one flag is all it takes.
//
// Layout facts (System V gABI + the GNU symbol-versioning extension, elf.h):
//   ELF64 header: e_shoff at 0x28 (u64), e_shentsize 0x3A (u16), e_shnum 0x3C (u16).
//   Section header (64 bytes): sh_type +4 (u32), sh_offset +24 (u64), sh_size +32 (u64), sh_link +40 (u32), sh_info +44 (u32).
//   SHT_GNU_verneed = 0x6ffffffe; sh_link names the string table, sh_info counts Verneed entries.
//   Verneed (16 bytes): vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
//   Vernaux (16 bytes): vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
//   VER_FLG_WEAK = 0x2.
//
// This file is compiled twice: by MSBuild's RoslynCodeTaskFactory as the build task (see
// RoboRl.Training.targets; netstandard2.0, so only plain byte arithmetic here), and by the test project
// with ROBORL_ELF_PATCHER_NO_TASK defined, which tests the patcher on the real library.
using System;
using System.IO;
using System.Text;

namespace RoboRl.Training.Build
{
    /// <summary>What <see cref="ElfVersionPatcher.MarkVersionWeak"/> did.</summary>
    public enum ElfPatchOutcome { Patched, AlreadyWeak }

    public static class ElfVersionPatcher
    {
        public const uint ShtGnuVerneed = 0x6ffffffe;
        public const ushort VerFlagWeak = 0x2;

        /// <summary>
        /// Sets VER_FLG_WEAK on the Vernaux entry named <paramref name="versionName"/> (only that entry).
        /// Idempotent. Throws <see cref="InvalidDataException"/> naming the file when it is not a
        /// 64-bit little-endian ELF, has no version-needs section, or does not require that version.
        /// The file is rewritten through a temporary file, so a hard link into the NuGet cache is never modified.
        /// </summary>
        public static ElfPatchOutcome MarkVersionWeak(string path, string versionName)
        {
            byte[] elf = File.ReadAllBytes(path);
            int flagsOffset = FindVernauxFlagsOffset(elf, path, versionName);
            ushort flags = ReadU16(elf, flagsOffset);
            if ((flags & VerFlagWeak) != 0) return ElfPatchOutcome.AlreadyWeak;

            flags |= VerFlagWeak;
            elf[flagsOffset] = (byte)flags;
            elf[flagsOffset + 1] = (byte)(flags >> 8);
            string temporary = path + ".roborl-patch.tmp";
            File.WriteAllBytes(temporary, elf);
            File.Delete(path);
            File.Move(temporary, path);
            return ElfPatchOutcome.Patched;
        }

        /// <summary>True when the Vernaux entry for <paramref name="versionName"/> carries VER_FLG_WEAK.</summary>
        public static bool IsVersionWeak(string path, string versionName)
        {
            byte[] elf = File.ReadAllBytes(path);
            return (ReadU16(elf, FindVernauxFlagsOffset(elf, path, versionName)) & VerFlagWeak) != 0;
        }

        /// <summary>File offset of vna_flags of the entry named <paramref name="versionName"/>.</summary>
        public static int FindVernauxFlagsOffset(byte[] elf, string path, string versionName)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw Bad(path, "no ELF magic (7f 45 4c 46) at offset 0");
            if (elf[4] != 2) throw Bad(path, "EI_CLASS is " + elf[4] + ", expected 2 (ELFCLASS64)");
            if (elf[5] != 1) throw Bad(path, "EI_DATA is " + elf[5] + ", expected 1 (little-endian)");

            long sectionTable = (long)ReadU64(elf, 0x28);
            int entrySize = ReadU16(elf, 0x3A);
            int sectionCount = ReadU16(elf, 0x3C);
            if (entrySize != 64) throw Bad(path, "e_shentsize is " + entrySize + ", expected 64");
            if (sectionTable <= 0 || sectionTable + (long)sectionCount * 64 > elf.Length)
                throw Bad(path, "section header table (offset " + sectionTable + ", " + sectionCount + " entries) lies outside the file");

            for (int s = 0; s < sectionCount; s++)
            {
                int header = checked((int)(sectionTable + s * 64L));
                if (ReadU32(elf, header + 4) != ShtGnuVerneed) continue;

                long verneed = (long)ReadU64(elf, header + 24);
                long verneedSize = (long)ReadU64(elf, header + 32);
                uint stringSection = ReadU32(elf, header + 40);
                uint verneedCount = ReadU32(elf, header + 44);
                if (verneed < 0 || verneed + verneedSize > elf.Length) throw Bad(path, ".gnu.version_r lies outside the file");
                if (stringSection >= sectionCount) throw Bad(path, ".gnu.version_r links to missing section " + stringSection);
                int stringHeader = checked((int)(sectionTable + stringSection * 64L));
                long strings = (long)ReadU64(elf, stringHeader + 24);
                long stringsSize = (long)ReadU64(elf, stringHeader + 32);
                if (strings < 0 || strings + stringsSize > elf.Length) throw Bad(path, "the version string table lies outside the file");

                long need = verneed;
                for (uint n = 0; n < verneedCount; n++)
                {
                    CheckInside(path, need, 16, verneed, verneedSize);
                    int auxCount = ReadU16(elf, (int)need + 2);
                    long aux = need + ReadU32(elf, (int)need + 8);
                    for (int a = 0; a < auxCount; a++)
                    {
                        CheckInside(path, aux, 16, verneed, verneedSize);
                        uint name = ReadU32(elf, (int)aux + 8);
                        if (name < stringsSize && NameEquals(elf, strings + name, strings + stringsSize, versionName))
                            return (int)aux + 4;
                        uint nextAux = ReadU32(elf, (int)aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint nextNeed = ReadU32(elf, (int)need + 12);
                    if (nextNeed == 0) break;
                    need += nextNeed;
                }
                throw Bad(path, "no version requirement named " + versionName + " in .gnu.version_r (the patch may no longer be needed)");
            }
            throw Bad(path, "no SHT_GNU_verneed (.gnu.version_r) section");
        }

        static void CheckInside(string path, long offset, int size, long sectionStart, long sectionSize)
        {
            if (offset < sectionStart || offset + size > sectionStart + sectionSize)
                throw Bad(path, "a .gnu.version_r entry at offset " + offset + " runs outside the section");
        }

        static bool NameEquals(byte[] elf, long start, long end, string expected)
        {
            byte[] wanted = Encoding.ASCII.GetBytes(expected);
            if (start + wanted.Length >= end) return false;
            for (int i = 0; i < wanted.Length; i++)
                if (elf[start + i] != wanted[i]) return false;
            return elf[start + wanted.Length] == 0;
        }

        static InvalidDataException Bad(string path, string what) =>
            new InvalidDataException("ELF patch of '" + path + "' refused: " + what + ".");

        static ushort ReadU16(byte[] b, int o) => (ushort)(b[o] | b[o + 1] << 8);
        static uint ReadU32(byte[] b, int o) => (uint)(b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24);
        static ulong ReadU64(byte[] b, int o) => ReadU32(b, o) | (ulong)ReadU32(b, o + 4) << 32;
    }

#if !ROBORL_ELF_PATCHER_NO_TASK
    /// <summary>MSBuild task: marks <see cref="VersionName"/> weak in every file of <see cref="Files"/>.</summary>
    public sealed class MarkElfVersionWeak : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = new Microsoft.Build.Framework.ITaskItem[0];

        [Microsoft.Build.Framework.Required]
        public string VersionName { get; set; } = "";

        public override bool Execute()
        {
            foreach (var item in Files)
            {
                string path = item.GetMetadata("FullPath");
                try
                {
                    ElfPatchOutcome outcome = ElfVersionPatcher.MarkVersionWeak(path, VersionName);
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "{0}: {1} {2}", path, VersionName, outcome);
                }
                catch (Exception e) when (e is InvalidDataException || e is IOException || e is UnauthorizedAccessException)
                {
                    Log.LogError("RoboRl.Training: " + e.Message);
                }
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
