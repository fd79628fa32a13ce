// Independent check of RoboRl's ONNX export with ONNX Runtime for Node.js (onnxruntime-node, not RoboRl code):
// loads the model, feeds a batch of observations to its one input and prints every output.
// Usage: node onnx-run.mjs MODEL.onnx INPUT.f32 BATCH
// INPUT.f32 holds BATCH × n float32 values, little-endian, row-major. Prints one JSON object:
// {"inputs": [names], "outputs": {name: {"dims": [..], "type": "float32", "data": [..]}}}.
import { readFile } from "node:fs/promises";
import * as ort from "onnxruntime-node";

const [model, inputFile, batchText] = process.argv.slice(2);
if (!model || !inputFile || !batchText) {
  console.error("usage: node onnx-run.mjs MODEL.onnx INPUT.f32 BATCH");
  process.exit(2);
}
const batch = Number(batchText);
const bytes = await readFile(inputFile);
const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
if (!Number.isInteger(batch) || batch < 1 || values.length % batch !== 0) {
  console.error(`${inputFile}: ${values.length} values do not split into ${batchText} rows`);
  process.exit(2);
}
const session = await ort.InferenceSession.create(model);
if (session.inputNames.length !== 1) {
  console.error(`${model}: ${session.inputNames.length} inputs, expected 1`);
  process.exit(1);
}
const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", values, [batch, values.length / batch]) };
const results = await session.run(feeds);
const outputs = {};
for (const name of session.outputNames) {
  const t = results[name];
  outputs[name] = { dims: Array.from(t.dims), type: t.type, data: Array.from(t.data) };
}
console.log(JSON.stringify({ inputs: session.inputNames, outputs }));
