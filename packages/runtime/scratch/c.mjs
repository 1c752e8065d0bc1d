import * as ort from 'onnxruntime-node';
const s = await ort.InferenceSession.create('fixtures/step.onnx');
const ids = new ort.Tensor('int64', new BigInt64Array([1n, 2n]), [2, 1]);
const h = new ort.Tensor('float32', new Float32Array(8), [2, 4]);
const k = new ort.Tensor('float32', new Float32Array(0), [2, 0, 4]);
const logits = new ort.Tensor('float32', new Float32Array(22), [2, 1, 11]);
const r = await s.run({ input_ids: ids, 'past_ssm.0': h, 'past_key_values.0.key': k }, { logits, 'present_ssm.0': null });
console.log(r.logits.data === logits.data, r.logits.data.buffer === logits.data.buffer, Object.keys(r));
try { await s.run({ input_ids: ids, 'past_ssm.0': h, 'past_key_values.0.key': k }, { logits }); console.log('partial fetches ok', Object.keys(await s.run({ input_ids: ids, 'past_ssm.0': h, 'past_key_values.0.key': k }, { logits }))) } catch (e) { console.log(e.message) }
for (const ep of ['cuda', 'webgpu']) {
  try { await ort.InferenceSession.create('fixtures/step.onnx', { executionProviders: [ep], logSeverityLevel: 4 }); } catch (e) { console.log(ep, '->', JSON.stringify(e.message)); }
}
