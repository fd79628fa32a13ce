// Independent check of RoboRl's MCAP output with Foxglove's own libraries (not RoboRl code):
// @mcap/core's indexed reader opens the file (validating magic, footer, summary and chunk CRCs), @foxglove/rosmsg
// parses each ros2msg schema, @foxglove/rosmsg2-serialization decodes every message's CDR.
// Usage: node mcap-verify.mjs FILE [--no-messages]
// Prints one JSON object: header, statistics, schemas, channels, counts per topic and (unless --no-messages) every
// decoded message. 64-bit integers are printed as decimal strings, typed arrays as arrays.
import { open } from "node:fs/promises";
import { McapIndexedReader } from "@mcap/core";
import { parse } from "@foxglove/rosmsg";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import { decompress as zstdDecompress } from "fzstd";

const [file, ...flags] = process.argv.slice(2);
if (!file) {
  console.error("usage: node mcap-verify.mjs FILE [--no-messages]");
  process.exit(2);
}
const withMessages = !flags.includes("--no-messages");

const handle = await open(file, "r");
const readable = {
  size: async () => BigInt((await handle.stat()).size),
  read: async (offset, length) => {
    const buffer = new Uint8Array(Number(length));
    const { bytesRead } = await handle.read(buffer, 0, Number(length), Number(offset));
    if (bytesRead !== Number(length)) throw new Error(`short read at ${offset}`);
    return buffer;
  },
};

// zstd chunks are decompressed by fzstd (a JavaScript zstd decoder, independent of RoboRl's ZstdSharp).
const decompressHandlers = { zstd: (data, size) => zstdDecompress(data, new Uint8Array(Number(size))) };
const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
const decoders = new Map();
const schemas = [];
for (const schema of reader.schemasById.values()) {
  const text = new TextDecoder().decode(schema.data);
  schemas.push({ id: schema.id, name: schema.name, encoding: schema.encoding });
  // Foxglove's own schemas (the 3D scene, foxglove.SceneUpdate) are JSON with a JSON schema; every other one ros2msg.
  if (schema.encoding === "jsonschema") { JSON.parse(text); decoders.set(schema.id, { readMessage: (d) => JSON.parse(new TextDecoder().decode(d)) }); continue; }
  if (schema.encoding !== "ros2msg") throw new Error(`schema ${schema.name}: encoding ${schema.encoding}, expected ros2msg`);
  decoders.set(schema.id, new MessageReader(parse(text, { ros2: true })));
}
const channels = [...reader.channelsById.values()].map((c) => ({
  id: c.id, topic: c.topic, schemaId: c.schemaId, messageEncoding: c.messageEncoding,
  metadata: Object.fromEntries(c.metadata),
}));

const topics = {};
const messages = [];
for await (const message of reader.readMessages()) {
  const channel = reader.channelsById.get(message.channelId);
  if (channel.messageEncoding !== "cdr" && channel.messageEncoding !== "json") throw new Error(`channel ${channel.topic}: encoding ${channel.messageEncoding}`);
  const decoder = decoders.get(channel.schemaId);
  const data = decoder.readMessage(message.data);
  topics[channel.topic] = (topics[channel.topic] ?? 0) + 1;
  if (withMessages) {
    messages.push({
      topic: channel.topic, sequence: message.sequence,
      logTime: message.logTime, publishTime: message.publishTime, data,
    });
  }
}

const stats = reader.statistics;
const out = {
  header: reader.header,
  statistics: stats && {
    messageCount: stats.messageCount, chunkCount: stats.chunkCount, channelCount: stats.channelCount,
    schemaCount: stats.schemaCount, messageStartTime: stats.messageStartTime, messageEndTime: stats.messageEndTime,
  },
  chunkCount: reader.chunkIndexes.length,
  schemas, channels, topics, messages,
};
process.stdout.write(JSON.stringify(out, (key, value) => {
  if (typeof value === "bigint") return value.toString();
  if (ArrayBuffer.isView(value)) return Array.from(value, (v) => (typeof v === "bigint" ? v.toString() : v));
  return value;
}));
await handle.close();
