using System.Diagnostics;
using System.Text;
using RoboRl.Core.Messages;
using RoboRl.Ros2.Types;

namespace RoboRl.Ros2.Tests;

/// <summary>
/// A C program built in the test from idlc's output for the IDL RoboRl generates from its registry: the independent
/// reference. <c>peer dump</c> prints every idlc descriptor (type name, size, align, flags, op count, ops words);
/// <c>peer echo IN OUT SECONDS [xcdr2]</c> takes every type on <c>rt/IN/pkg/Name</c> into idlc's C struct and writes
/// it back out on <c>rt/OUT/pkg/Name</c> (optionally encoded as XCDR2, which ROS 2 readers do not accept).
/// </summary>
public sealed class CPeer
{
    private static readonly object BuildGate = new();
    private static CPeer? _built;

    private CPeer(string exe, IReadOnlyList<MsgDefinition> types) { Exe = exe; Types = types; }

    public string Exe { get; }
    public IReadOnlyList<MsgDefinition> Types { get; }

    public static CPeer Build()
    {
        lock (BuildGate)
        {
            if (_built is not null) return _built;
            string? idlc = Env.Which("idlc"), cc = Env.Which("cc") ?? Env.Which("gcc");
            if (idlc is null) Env.Missing("idlc is not on PATH (Debian: cyclonedds-tools)");
            if (cc is null) Env.Missing("cc is not on PATH (Debian: gcc)");
            if (!File.Exists("/usr/include/dds/dds.h")) Env.Missing("Cyclone DDS headers missing (Debian: cyclonedds-dev)");

            var types = MessageRegistry.Default.All;
            string dir = Path.Combine(Path.GetTempPath(), "roborl-ros2-cpeer", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "types.idl"), IdlGenerator.Generate(types));
            var (rc, _, err) = Env.Run(idlc!, ["types.idl"], dir, TimeSpan.FromMinutes(2));
            Assert.That(rc, Is.EqualTo(0), "idlc failed:\n" + err);
            File.WriteAllText(Path.Combine(dir, "peer.c"), Source(types));
            (rc, _, err) = Env.Run(cc!, ["-O1", "-o", "peer", "peer.c", "-I.", "-lddsc"], dir, TimeSpan.FromMinutes(3));
            Assert.That(rc, Is.EqualTo(0), "cc failed:\n" + err);
            return _built = new CPeer(Path.Combine(dir, "peer"), types);
        }
    }

    private static string? _impostor;

    /// <summary>
    /// A C writer that declares <c>sensor_msgs::msg::dds_::Joy_</c> with a different body: header fields, then a
    /// sequence count of 1000 axes followed by a single float (and no buttons). Its payloads have the right type name and
    /// the wrong lengths. Usage: <c>impostor DDS_TOPIC</c>; prints "matched N" then "wrote 3".
    /// </summary>
    public static string BuildImpostor()
    {
        lock (BuildGate)
        {
            if (_impostor is not null) return _impostor;
            string? idlc = Env.Which("idlc"), cc = Env.Which("cc") ?? Env.Which("gcc");
            if (idlc is null) Env.Missing("idlc is not on PATH (Debian: cyclonedds-tools)");
            if (cc is null) Env.Missing("cc is not on PATH (Debian: gcc)");
            string dir = Path.Combine(Path.GetTempPath(), "roborl-ros2-cpeer", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "impostor.idl"), """
                module sensor_msgs { module msg { module dds_ {
                  @final struct Joy_ { int32 sec; uint32 nanosec; string frame_id; uint32 axes_count; float one_axis; };
                }; }; };

                """);
            File.WriteAllText(Path.Combine(dir, "main.c"), """
                #include <stdio.h>
                #include <stdlib.h>
                #include "dds/dds.h"
                #include "impostor.c"
                int main(int argc, char **argv) {
                  if (argc < 2) { fprintf(stderr, "usage: impostor DDS_TOPIC\n"); return 2; }
                  const char *dom = getenv("ROS_DOMAIN_ID");
                  dds_entity_t pp = dds_create_participant(dom ? (dds_domainid_t) atoi(dom) : 0, NULL, NULL);
                  dds_entity_t tp = dds_create_topic(pp, &sensor_msgs_msg_dds__Joy__desc, argv[1], NULL, NULL);
                  dds_qos_t *q = dds_create_qos();
                  dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
                  dds_qset_writer_data_lifecycle(q, false);
                  dds_entity_t w = dds_create_writer(pp, tp, q, NULL);
                  if (pp < 0 || tp < 0 || w < 0) { fprintf(stderr, "entities failed\n"); return 1; }
                  dds_publication_matched_status_t st = { 0 };
                  for (int i = 0; i < 3000 && st.current_count == 0; i++) { dds_get_publication_matched_status(w, &st); dds_sleepfor(DDS_MSECS(10)); }
                  printf("matched %u\n", st.current_count); fflush(stdout);
                  sensor_msgs_msg_dds__Joy_ bad = { 1, 2, "bad", 1000, 0.5f };
                  for (int i = 0; i < 3; i++) dds_write(w, &bad);
                  printf("wrote 3\n"); fflush(stdout);
                  dds_sleepfor(DDS_SECS(3));   /* stay until the reader has acknowledged them */
                  dds_delete(pp);
                  return 0;
                }

                """);
            var (rc, _, err) = Env.Run(idlc!, ["impostor.idl"], dir, TimeSpan.FromMinutes(2));
            Assert.That(rc, Is.EqualTo(0), "idlc failed:\n" + err);
            (rc, _, err) = Env.Run(cc!, ["-O1", "-o", "impostor", "main.c", "-I.", "-lddsc"], dir, TimeSpan.FromMinutes(3));
            Assert.That(rc, Is.EqualTo(0), "cc failed:\n" + err);
            return _impostor = Path.Combine(dir, "impostor");
        }
    }

    public static Process StartProgram(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["CYCLONEDDS_URI"] = Ros2Loopback.ConfigXml;
        psi.Environment["ROS_DOMAIN_ID"] = Env.DomainId.ToString();
        return Process.Start(psi)!;
    }

    public Process Start(params string[] args) => StartProgram(Exe, args);

    private static string Source(IReadOnlyList<MsgDefinition> types)
    {
        var sb = new StringBuilder();
        sb.Append("""
            #include <stdio.h>
            #include <stdlib.h>
            #include <string.h>
            #include "dds/dds.h"
            #include "types.c"

            struct entry { const char *name; const dds_topic_descriptor_t *desc; const uint32_t *ops; size_t nwords; };
            static const struct entry types[] = {

            """);
        foreach (var t in types)
        {
            string c = IdlGenerator.CName(t);
            sb.Append($"  {{ \"{t.Package}/{t.Name}\", &{c}_desc, {c}_ops, sizeof({c}_ops) / sizeof(uint32_t) }},\n");
        }
        sb.Append("""
            };
            #define NTYPES (sizeof(types) / sizeof(types[0]))

            static int dump(void) {
              for (size_t i = 0; i < NTYPES; i++) {
                const dds_topic_descriptor_t *d = types[i].desc;
                printf("%s %u %u %u %u", d->m_typename, d->m_size, d->m_align, d->m_flagset & ~DDS_TOPIC_XTYPES_METADATA, d->m_nops);
                for (size_t k = 0; k < types[i].nwords; k++) printf(" %u", types[i].ops[k]);
                printf("\n");
              }
              return 0;
            }

            static int echo(const char *in, const char *out, int seconds, int xcdr2) {
              const char *dom = getenv("ROS_DOMAIN_ID");
              dds_entity_t pp = dds_create_participant(dom ? (dds_domainid_t) atoi(dom) : 0, NULL, NULL);
              if (pp < 0) { fprintf(stderr, "participant: %s\n", dds_strretcode(pp)); return 1; }
              dds_qos_t *qos = dds_create_qos();
              dds_qset_reliability(qos, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
              dds_qset_history(qos, DDS_HISTORY_KEEP_LAST, 16);
              dds_qos_t *wqos = dds_create_qos();
              dds_copy_qos(wqos, qos);
              dds_qset_writer_data_lifecycle(wqos, false);
              if (xcdr2) { dds_data_representation_id_t r = DDS_DATA_REPRESENTATION_XCDR2; dds_qset_data_representation(wqos, 1, &r); }
              dds_entity_t ws = dds_create_waitset(pp);
              dds_entity_t readers[NTYPES], writers[NTYPES];
              char name[512];
              for (size_t i = 0; i < NTYPES; i++) {
                snprintf(name, sizeof name, "rt/%s/%s", in, types[i].name);
                dds_entity_t tin = dds_create_topic(pp, types[i].desc, name, NULL, NULL);
                snprintf(name, sizeof name, "rt/%s/%s", out, types[i].name);
                dds_entity_t tout = dds_create_topic(pp, types[i].desc, name, NULL, NULL);
                readers[i] = dds_create_reader(pp, tin, qos, NULL);
                writers[i] = dds_create_writer(pp, tout, wqos, NULL);
                if (tin < 0 || tout < 0 || readers[i] < 0 || writers[i] < 0) { fprintf(stderr, "entities for %s failed\n", types[i].name); return 1; }
                dds_entity_t rc = dds_create_readcondition(readers[i], DDS_ANY_STATE);
                dds_waitset_attach(ws, rc, (dds_attach_t) i);
              }
              printf("ready\n"); fflush(stdout);
              dds_time_t end = dds_time() + DDS_SECS(seconds);
              long echoed = 0;
              while (dds_time() < end) {
                dds_attach_t hits[NTYPES];
                dds_return_t n = dds_waitset_wait(ws, hits, NTYPES, DDS_MSECS(100));
                for (dds_return_t h = 0; h < n; h++) {
                  size_t i = (size_t) hits[h];
                  void *samples[8] = { NULL }; dds_sample_info_t infos[8];
                  dds_return_t k = dds_take(readers[i], samples, infos, 8, 8);
                  for (dds_return_t s = 0; s < k; s++)
                    if (infos[s].valid_data && dds_write(writers[i], samples[s]) == 0) echoed++;
                  if (k > 0) dds_return_loan(readers[i], samples, k);
                }
              }
              printf("echoed %ld\n", echoed);
              dds_delete(pp);
              return 0;
            }

            int main(int argc, char **argv) {
              if (argc >= 2 && strcmp(argv[1], "dump") == 0) return dump();
              if (argc >= 5 && strcmp(argv[1], "echo") == 0) return echo(argv[2], argv[3], atoi(argv[4]), argc >= 6 && strcmp(argv[5], "xcdr2") == 0);
              fprintf(stderr, "usage: peer dump | peer echo IN OUT SECONDS [xcdr2]\n");
              return 2;
            }

            """);
        return sb.ToString();
    }
}
