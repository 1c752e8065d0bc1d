import * as ort from 'onnxruntime-node';
const s = await ort.InferenceSession.create('fixtures/step.onnx', { intraOpNumThreads: 1 });
const B = 1;
const ids = new ort.Tensor('int64', new BigInt64Array(B).fill(1n), [B, 1]);
const k = new ort.Tensor('float32', new Float32Array(0), [B, 0, 4]);
async function loop(prealloc, n) {
  let h = new ort.Tensor('float32', new Float32Array(4 * B), [B, 4]);
  const bufs = [0, 1].map(() => new ort.Tensor('float32', new Float32Array(4 * B), [B, 4]));
  const logits = new ort.Tensor('float32', new Float32Array(11 * B), [B, 1, 11]);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (prealloc) { const out = bufs[i & 1]; await s.run({ input_ids: ids, 'past_ssm.0': h, 'past_key_values.0.key': k }, { logits, 'present_ssm.0': out, 'present_key_values.0.key': null }); h = out; }
    else { const r = await s.run({ input_ids: ids, 'past_ssm.0': h, 'past_key_values.0.key': k }); h = r['present_ssm.0']; }
  }
  return ((performance.now() - t0) / n * 1000).toFixed(1) + 'us';
}
for (let r = 0; r < 3; r++) console.log('alloc', await loop(false, 5000), 'prealloc', await loop(true, 5000));
