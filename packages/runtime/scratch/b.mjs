import * as ort from 'onnxruntime-node';
const s = await ort.InferenceSession.create('fixtures/step.onnx');
console.log(s.inputMetadata, s.outputMetadata);
const ids = new ort.Tensor('int64', new BigInt64Array([1n, 2n]), [2, 1]);
const h = new ort.Tensor('float32', new Float32Array(8), [2, 4]);
const k = new ort.Tensor('float32', new Float32Array(0), [2, 0, 4]);
const logits = new ort.Tensor('float32', new Float32Array(22), [2, 1, 11]);
const ph = new ort.Tensor('float32', new Float32Array(8), [2, 4]);
const r = await s.run({ input_ids: ids, 'past_ssm.0': h, 'past_key_values.0.key': k }, { logits, 'present_ssm.0': ph, 'present_key_values.0.key': null });
console.log('prealloc', logits.data.slice(0, 3), r.logits === logits, r['present_ssm.0'] === ph, r['present_key_values.0.key'].dims);
// run with wrong shape
try { await s.run({ input_ids: new ort.Tensor('int64', new BigInt64Array([1n]), [1, 1]), 'past_ssm.0': h, 'past_key_values.0.key': k }); } catch (e) { console.log('WRONG:', e.message); }
for (const f of ['scratch/bad.onnx', 'scratch/text.onnx', 'scratch/empty.onnx', 'scratch/missing.onnx']) {
  try { await ort.InferenceSession.create(f); console.log(f, 'loaded?!'); } catch (e) { console.log(f, '->', JSON.stringify(e.message), e.constructor.name); }
}
for (const ep of ['cuda', 'webgpu']) {
  try { const x = await ort.InferenceSession.create('fixtures/step.onnx', { executionProviders: [ep] }); console.log(ep, 'created'); const r = await x.run({ input_ids: ids, 'past_ssm.0': h, 'past_key_values.0.key': k }); console.log(ep, r.logits.data.slice(0,3)); } catch (e) { console.log(ep, '->', JSON.stringify(e.message)); }
}
