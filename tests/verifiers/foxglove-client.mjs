// Connects to a RoboRl Foxglove server with Foxglove's own client (@foxglove/ws-protocol over `ws`), subscribes,
// decodes what arrives (CDR with the advertised ros2msg schema via @foxglove/rosmsg + rosmsg2-serialization; JSON
// for the 3D scene, checked against Foxglove's published foxglove.SceneUpdate JSON schema from @foxglove/schemas) and
// prints one JSON object on stdout.
//
// node foxglove-client.mjs URL [--seconds S] [--topics /a,/b] [--keep /a,/b] [--stall-s S] [--connect-timeout-s S]
//   URL            ws://127.0.0.1:PORT (with ?token=… where the server wants one)
//   --topics       subscribe to these (default: every advertised channel)
//   --keep         topics whose decoded messages are printed (default: none; counts always)
//   --stall-s      a slow viewer: stop reading the socket for S seconds right after subscribing
//   --expect-refusal  only connect and report the HTTP status of a refused handshake
import wsProtocol from "@foxglove/ws-protocol";
import WebSocket from "ws";
import { parse } from "@foxglove/rosmsg";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import schemasModule from "@foxglove/schemas/jsonschema.js";

const { FoxgloveClient } = wsProtocol;
const schemas = schemasModule.default ?? schemasModule;

const args = process.argv.slice(2);
const url = args[0];
const opt = (name, dflt) => { const i = args.indexOf(name); return i < 0 ? dflt : args[i + 1]; };
const seconds = Number(opt("--seconds", "3"));
const topics = opt("--topics", null)?.split(",");
const keep = new Set((opt("--keep", "") || "").split(",").filter(Boolean));
const stallS = Number(opt("--stall-s", "0"));
const connectTimeoutS = Number(opt("--connect-timeout-s", "20"));
const expectRefusal = args.includes("--expect-refusal");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bigintSafe = (_k, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Array.from(v) : v);

// Waits for the server to listen (the node opens it while it starts). The client is attached before the socket opens:
// the server sends serverInfo right after the handshake, possibly in the same packet.
async function open(attach) {
  const deadline = Date.now() + connectTimeoutS * 1000;
  for (;;) {
    const result = await new Promise((resolve) => {
      const ws = new WebSocket(url, [FoxgloveClient.SUPPORTED_SUBPROTOCOL]);
      ws.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ refused: { status: res.statusCode, body: body.trim() } }));
      });
      const client = expectRefusal ? null : attach(new FoxgloveClient({ ws }), ws);
      ws.once("open", () => resolve({ ws, client }));
      ws.once("error", (e) => resolve({ error: e }));
    });
    if (result.ws || result.refused) return result;
    if (Date.now() > deadline) throw new Error(`cannot connect to ${url}: ${result.error?.message}`);
    await sleep(100);
  }
}

function print(code) {
  process.stdout.write(JSON.stringify(out, bigintSafe) + "\n", () => process.exit(code));
}

// A small validator for the subset of JSON Schema Foxglove's schemas use (type, properties, required, items, oneOf/const,
// minimum/maximum): the scene must match Foxglove's own description of foxglove.SceneUpdate.
function validate(value, schema, path, errors) {
  if (errors.length > 20) return;
  if (schema.oneOf) {
    if (!schema.oneOf.some((s) => (s.const !== undefined ? s.const === value : validate(value, s, path, []) === true))) errors.push(`${path}: not one of ${schema.title}`);
    return;
  }
  const t = schema.type;
  const kind = Array.isArray(value) ? "array" : value === null ? "null" : Number.isInteger(value) ? "integer" : typeof value;
  const ok = t === undefined || t === kind || (t === "number" && kind === "integer");
  if (!ok) { errors.push(`${path}: ${kind}, expected ${t}`); return; }
  if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${path}: below ${schema.minimum}`);
  if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${path}: above ${schema.maximum}`);
  if (kind === "object" && schema.properties) {
    for (const r of schema.required ?? []) if (!(r in value)) errors.push(`${path}.${r}: missing`);
    for (const [k, v] of Object.entries(value)) {
      if (!schema.properties[k]) errors.push(`${path}.${k}: not in ${schema.title}`);
      else validate(v, schema.properties[k], `${path}.${k}`, errors);
    }
  }
  if (kind === "array" && schema.items) value.forEach((v, i) => validate(v, schema.items, `${path}[${i}]`, errors));
  return errors.length === 0;
}

const out = { url: url.replace(/token=[^&]*/, "token=…"), channels: [], counts: {}, messages: {}, status: [], sceneErrors: [] };
setTimeout(() => { out.error = "timed out"; print(1); }, (connectTimeoutS + seconds + 20) * 1000).unref();
let resolveInfo;
const gotInfo = new Promise((resolve) => (resolveInfo = resolve));

function attach(client, ws) {
  const readers = new Map(); // subscription id -> { topic, decode }
  client.on("serverInfo", (info) => { out.serverInfo = info; resolveInfo(); });
  client.on("status", (s) => out.status.push(s));
  client.on("advertise", (channels) => {
    for (const c of channels) {
      out.channels.push({ id: c.id, topic: c.topic, encoding: c.encoding, schemaName: c.schemaName, schemaEncoding: c.schemaEncoding, schema: c.schema });
      if (topics && !topics.includes(c.topic)) continue;
      let decode;
      if (c.encoding === "cdr" && c.schemaEncoding === "ros2msg") {
        const reader = new MessageReader(parse(c.schema, { ros2: true }));
        decode = (view) => reader.readMessage(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      } else if (c.encoding === "json") {
        decode = (view) => JSON.parse(new TextDecoder().decode(view));
      } else throw new Error(`channel ${c.topic}: cannot decode ${c.encoding}/${c.schemaEncoding}`);
      const id = client.subscribe(c.id);
      readers.set(id, { topic: c.topic, decode, schemaName: c.schemaName });
      if (stallS > 0 && !out.stalled) {
        // A slow viewer: the socket is not read for a while, so the server's sends back up and its queue for us fills.
        out.stalled = true;
        ws._socket.pause();
        setTimeout(() => ws._socket.resume(), stallS * 1000);
      }
    }
  });
  client.on("message", ({ subscriptionId, timestamp, data }) => {
    const r = readers.get(subscriptionId);
    if (!r) return;
    out.counts[r.topic] = (out.counts[r.topic] ?? 0) + 1;
    const decoded = r.decode(data);
    if (r.schemaName === "foxglove.SceneUpdate" && out.counts[r.topic] <= 5) validate(decoded, schemas.SceneUpdate, "SceneUpdate", out.sceneErrors);
    if (keep.has(r.topic)) (out.messages[r.topic] ??= []).push({ receiveTimeNs: timestamp.toString(), data: decoded });
  });
  return client;
}

const { client, refused } = await open(attach);
if (refused) {
  out.refused = refused;
  print(expectRefusal ? 0 : 1);
} else if (expectRefusal) {
  out.refused = null;
  print(1);
} else {
  await gotInfo;
  await sleep(seconds * 1000);
  client.close();
  print(0);
}
