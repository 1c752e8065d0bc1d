import * as ort from 'onnxruntime-node';
const s = await ort.InferenceSession.create('fixtures/step.onnx');
const ids = new ort.Tensor('int64', new BigInt64Array([1n, 2n]), [2, 1]);
const h = new ort.Tensor('float32', new Float32Array(8), [2, 4]);
const k = new ort.Tensor('float32', new Float32Array(0), [2, 0, 4]);
const logits = new ort.Tensor('float32', new Float32Array(22), [2, 1, 11]);
const ph = new ort.Tensor('float32', new Float32Array(8), [2, 4]);
const r = await s.run({ input_ids: ids, 'past_ssm.0': h, 'past_key_values.0.key': k }, { logits, 'present_ssm.0': ph });
logits.data[0] = 123; ph.data[0] = 77;
console.log(r.logits.data[0], r['present_ssm.0'].data[0], r.logits.data.byteOffset, r.logits.data.buffer.byteLength);
// feed the preallocated present back as past while also writing to it: aliasing?
const r2 = await s.run({ input_ids: ids, 'past_ssm.0': ph, 'past_key_values.0.key': k }, { 'present_ssm.0': ph });
console.log('aliased ok?', ph.data);
