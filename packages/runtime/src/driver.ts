// The generic driver of the model contract (DESIGN.md "The model contract"): prefill once, then feed each
// present_<state> back as past_<state> for every step. It knows nothing of the family: only the card's state list.
import { UserError, type StateTensor } from "@ssmbench/core";
import type { Feeds, Fetches, Session, Tensor } from "./types.ts";

/** Recurrent state by state name ("ssm.0", "key_values.0.key"), as onnxruntime tensors. */
export type State = Record<string, Tensor>;

/** What the driver needs from a model card (a ModelCard satisfies it). */
export interface ModelSpec {
  vocab: number;
  states: readonly StateTensor[];
}

export interface DriverOptions {
  /** Step into pre-allocated output tensors where the backend fills them (onnxruntime-node). Default true. */
  preallocate?: boolean;
  /** Check logits for NaN/Inf after every run (a pass over the logits). Default true. */
  checkFinite?: boolean;
}

export interface Logits {
  /** Row-major [batch, seq, vocab]. */
  logits: Float32Array;
  dims: [batch: number, seq: number, vocab: number];
}

/** Logits or states that are not finite: the checkpoint (or its float16 range) is broken, not the harness. */
export class NonFiniteError extends UserError {
  override name = "NonFiniteError";
}

/** Throws NonFiniteError naming the tensor, how many values are NaN/Inf, and the first one. */
export function assertFinite(name: string, values: ArrayLike<number>): void {
  let first = -1;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count > 0) {
    throw new NonFiniteError(
      `${name} has ${count} non-finite value(s) of ${values.length}; the first is ${values[first]} at index ${first}`,
      "the model produced NaN/Inf: check the checkpoint's parity (card.json), re-export or retrain it",
    );
  }
}

const isGrowing = (s: StateTensor) => s.shape.includes("past_seq");

/** A state's dims for a batch, growing caches at past_seq = 0. */
export function stateDims(s: StateTensor, batch: number): number[] {
  return s.shape.map((d) => (d === "batch" ? batch : d === "past_seq" ? 0 : (d as number)));
}

function zeros(s: StateTensor, n: number) {
  switch (s.dtype) {
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "float16":
      return new Uint16Array(n);
  }
}

/** Does a tensor's shape fit the card's (batch fixed, past_seq free)? */
function fits(s: StateTensor, dims: readonly number[], batch: number): boolean {
  return dims.length === s.shape.length && s.shape.every((d, i) => (d === "past_seq" ? true : dims[i] === (d === "batch" ? batch : d)));
}

const show = (dims: readonly (number | string)[]) => `[${dims.join(", ")}]`;

export class RecurrentDriver {
  private readonly preallocate: boolean;
  private readonly checkFinite: boolean;
  private current: State | undefined;
  private batch = 0;
  /** Two sets of pre-allocated step outputs, used in turn so present of step k never aliases past of step k. */
  private buffers: [Fetches, Fetches] | undefined;
  private flip: 0 | 1 = 0;
  /**
   * The decode loop's fixed inputs, made once per batch size rather than per token (each allocation and object
   * built per token showed as ~25% of a d_model 64 step on onnxruntime-node): the input_ids tensor, whose array
   * step() overwrites, and, where every state is pre-allocated, the feeds of each buffer set: feeds[f] reads the
   * states that buffers[1 - f] holds.
   */
  private ids: { data: BigInt64Array; tensor: Tensor } | undefined;
  private cached: { feeds: [Feeds, Feeds]; states: [State, State] } | undefined;
  /** Which buffer set holds the current state (-1: none, e.g. right after prefill or reset). */
  private holder = -1;

  constructor(
    readonly prefillSession: Session,
    readonly stepSession: Session,
    readonly spec: ModelSpec,
    opts: DriverOptions = {},
    /** generate.onnx (step.onnx in an ONNX Loop with argmax), where the checkpoint has it: see generate() */
    readonly generateSession?: Session,
  ) {
    this.preallocate = (opts.preallocate ?? true) && stepSession.preallocatedOutputs;
    this.checkFinite = opts.checkFinite ?? true;
    for (const s of spec.states) {
      const unknown = s.shape.filter((d) => typeof d === "string" && d !== "batch" && d !== "past_seq");
      if (unknown.length) {
        throw new UserError(`state ${s.name} has symbolic dim(s) ${unknown.join(", ")}`, 'a card state shape may use only "batch" and "past_seq" besides numbers');
      }
    }
    const presents = spec.states.map((s) => `present_${s.name}`);
    expectNames(prefillSession, "input", ["input_ids"], true);
    expectNames(prefillSession, "output", ["logits", ...presents], false);
    expectNames(stepSession, "input", ["input_ids", ...spec.states.map((s) => `past_${s.name}`)], true);
    expectNames(stepSession, "output", ["logits", ...presents], false);
    if (generateSession) {
      expectNames(generateSession, "input", ["max_new_tokens", "input_ids", ...spec.states.map((s) => `past_${s.name}`)], true);
      expectNames(generateSession, "output", ["tokens", ...presents], false);
    }
  }

  /** The current state (live tensors: pre-allocated ones are overwritten two steps later). */
  get state(): State | undefined {
    return this.current;
  }

  /** Zero-filled state for `batch` sequences as the card describes it (past_seq = 0). */
  initState(batch: number): State {
    checkCount("batch", batch);
    const state: State = {};
    for (const s of this.spec.states) {
      const dims = stateDims(s, batch);
      state[s.name] = this.stepSession.tensor(s.dtype, zeros(s, dims.reduce((a, b) => a * b, 1)), dims);
    }
    return state;
  }

  /** Starts `batch` fresh sequences: step() then runs from the initial state. */
  reset(batch: number): void {
    this.setState(this.initState(batch), batch);
  }

  /**
   * A state of the card's shapes after `pastSeq` tokens, filled by `fill(i)` (growing caches get past_seq = pastSeq).
   * The speed suite times step() from such a state where the prefill that would build it does not fit in memory.
   */
  filledState(batch: number, pastSeq: number, fill: (i: number) => number): State {
    checkCount("batch", batch);
    const state: State = {};
    for (const s of this.spec.states) {
      const dims = s.shape.map((d) => (d === "batch" ? batch : d === "past_seq" ? pastSeq : Number(d)));
      if (s.dtype !== "float32" && s.dtype !== "float64") throw new UserError(`state ${s.name} is ${s.dtype}: filledState fills float32 or float64 states only`);
      const data = zeros(s, dims.reduce((a, b) => a * b, 1)) as Float32Array | Float64Array;
      for (let i = 0; i < data.length; i++) data[i] = fill(i);
      state[s.name] = this.stepSession.tensor(s.dtype, data, dims);
    }
    return state;
  }

  /** Continues from a given state (from filledState, or saved from an earlier prefill); checked against the card. */
  useState(state: State, batch: number): void {
    for (const s of this.spec.states) {
      const t = state[s.name];
      if (!t || !fits(s, t.dims, batch)) throw new UserError(`state ${s.name}: expected ${show(stateDims(s, batch))}, got ${t ? show(t.dims) : "nothing"}`);
    }
    this.setState(state, batch);
  }

  /** Runs prefill.onnx over [batch, seq] ids; its final state becomes the state step() continues from. */
  async prefill(inputIds: BigInt64Array, batch: number, seq: number): Promise<Logits & { state: State }> {
    checkCount("batch", batch);
    checkCount("seq", seq);
    if (inputIds.length !== batch * seq) {
      throw new UserError(`prefill input_ids: expected [batch ${batch}, seq ${seq}] = ${batch * seq} ids, got ${inputIds.length}`);
    }
    this.checkIds(inputIds);
    const session = this.prefillSession;
    const out = await session.run({ input_ids: session.tensor("int64", inputIds, [batch, seq]) });
    const { logits, dims } = this.logitsOf(out, [batch, seq, this.spec.vocab], session);
    const state: State = {};
    for (const s of this.spec.states) state[s.name] = this.presentOf(out, s, batch, session);
    this.setState(state, batch);
    return { logits, dims, state };
  }

  /**
   * One token per sequence -> logits [batch, 1, vocab] (row-major, batch * vocab values), advancing the state.
   * The returned array may be a reused buffer: it is valid until the next step().
   */
  async step(tokens: BigInt64Array): Promise<Float32Array> {
    const past = this.current;
    if (!past) throw new Error("RecurrentDriver.step() before prefill() or reset()");
    if (tokens.length !== this.batch) {
      throw new UserError(`step input_ids: expected [batch ${this.batch}, 1] = ${this.batch} ids (one per sequence), got ${tokens.length}`);
    }
    this.checkIds(tokens);
    const session = this.stepSession;
    const f = this.flip;
    this.flip ^= 1;
    const ids = this.ids!; // made with the state (setState)
    ids.data.set(tokens);
    const fetches = this.buffers?.[f];
    // Steady state: the current state sits in buffer set 1 - f (on the first step it is the prefill's outputs).
    const feeds = this.cached && this.holder === 1 - f ? this.cached.feeds[f] : this.feedsFrom(past, ids.tensor);
    const out = await session.run(feeds, fetches);
    if (this.cached) {
      this.current = this.cached.states[f];
      this.holder = f;
    } else {
      const next: State = {};
      for (const s of this.spec.states) {
        // onnxruntime-node writes into a pre-allocated tensor but returns a copy of it: keep feeding our own buffer.
        next[s.name] = fetches?.[`present_${s.name}`] ?? this.presentOf(out, s, this.batch, session);
      }
      this.current = next;
    }
    const logits = fetches ? (fetches.logits!.data as Float32Array) : this.logitsOf(out, [this.batch, 1, this.spec.vocab], session).logits;
    if (fetches && this.checkFinite) assertFinite(`logits of ${session.path}`, logits);
    return logits;
  }

  /**
   * Greedy decoding of `n` tokens per sequence in one call of generate.onnx: the tokens [batch, n] row-major, where
   * tokens[b, i] is the argmax after feeding `tokens` (one per sequence) and the first i generated ones. The state
   * advances past `tokens` and all but the last generated token, so generate(last column, m) continues exactly as
   * stepping would. Same tokens as step() with argmax (first index on ties), n calls fewer.
   */
  async generate(tokens: BigInt64Array, n: number): Promise<BigInt64Array> {
    const session = this.generateSession;
    if (!session) throw new UserError("this driver has no generate.onnx", "open the checkpoint with { generate: true }; a checkpoint without the file gets it from: node scripts/py.mjs -m ssmbench_trainer.generate models/<id>");
    const past = this.current;
    if (!past) throw new Error("RecurrentDriver.generate() before prefill() or reset()");
    checkCount("max_new_tokens", n);
    if (tokens.length !== this.batch) {
      throw new UserError(`generate input_ids: expected [batch ${this.batch}, 1] = ${this.batch} ids (one per sequence), got ${tokens.length}`);
    }
    this.checkIds(tokens);
    const feeds = this.feedsFrom(past, session.tensor("int64", tokens.slice(), [this.batch, 1]));
    feeds.max_new_tokens = session.tensor("int64", BigInt64Array.of(BigInt(n)), []);
    const out = await session.run(feeds);
    const t = out.tokens!;
    if (t.type !== "int64" || !sameDims(t.dims, [this.batch, n])) {
      throw new UserError(`${session.path} returned tokens ${t.type} ${show(t.dims)}, expected int64 ${show([this.batch, n])}`, "rebuild it from step.onnx: node scripts/py.mjs -m ssmbench_trainer.generate <checkpoint folder>");
    }
    const next: State = {};
    for (const s of this.spec.states) next[s.name] = this.presentOf(out, s, this.batch, session);
    this.setState(next, this.batch);
    return t.data as BigInt64Array;
  }

  /** Runs [batch, seq] ids token by token from the initial state; logits as prefill() would give them. */
  async stepThrough(inputIds: BigInt64Array, batch: number, seq: number): Promise<Logits> {
    checkCount("seq", seq);
    if (inputIds.length !== batch * seq) {
      throw new UserError(`stepThrough input_ids: expected [batch ${batch}, seq ${seq}] = ${batch * seq} ids, got ${inputIds.length}`);
    }
    const vocab = this.spec.vocab;
    const logits = new Float32Array(batch * seq * vocab);
    const column = new BigInt64Array(batch);
    this.reset(batch);
    for (let t = 0; t < seq; t++) {
      for (let b = 0; b < batch; b++) column[b] = inputIds[b * seq + t]!;
      const step = await this.step(column);
      for (let b = 0; b < batch; b++) logits.set(step.subarray(b * vocab, (b + 1) * vocab), (b * seq + t) * vocab);
    }
    return { logits, dims: [batch, seq, vocab] };
  }

  async release(): Promise<void> {
    await this.prefillSession.release();
    await this.stepSession.release();
    await this.generateSession?.release();
  }

  private setState(state: State, batch: number): void {
    this.current = state;
    this.holder = -1;
    if (batch !== this.batch) {
      this.buffers = this.preallocate ? [this.allocate(batch), this.allocate(batch)] : undefined;
      this.ids = this.idsTensor(batch);
      this.cached = this.buffers && !this.spec.states.some(isGrowing) ? this.feedCache(this.buffers, this.ids.tensor) : undefined;
    }
    this.batch = batch;
  }

  private idsTensor(batch: number) {
    const data = new BigInt64Array(batch);
    return { data, tensor: this.stepSession.tensor("int64", data, [batch, 1]) };
  }

  private feedsFrom(state: State, ids: Tensor): Feeds {
    const feeds: Feeds = { input_ids: ids };
    for (const s of this.spec.states) feeds[`past_${s.name}`] = state[s.name]!;
    return feeds;
  }

  /** The states each buffer set holds, and the feeds that read them (feeds[f] reads buffers[1 - f]). */
  private feedCache(buffers: [Fetches, Fetches], ids: Tensor) {
    const held = buffers.map((b) => Object.fromEntries(this.spec.states.map((s) => [s.name, b[`present_${s.name}`]!]))) as [State, State];
    return { states: held, feeds: [this.feedsFrom(held[1], ids), this.feedsFrom(held[0], ids)] as [Feeds, Feeds] };
  }

  /** Step outputs of fixed size; growing caches (past_seq) change size every step, so ORT allocates those. */
  private allocate(batch: number): Fetches {
    const t = this.stepSession;
    const vocab = this.spec.vocab;
    const fetches: Fetches = { logits: t.tensor("float32", new Float32Array(batch * vocab), [batch, 1, vocab]) };
    for (const s of this.spec.states) {
      // null = let ORT allocate. It must be listed: onnxruntime-node returns only the outputs named in fetches.
      if (isGrowing(s)) {
        fetches[`present_${s.name}`] = null;
        continue;
      }
      const dims = stateDims(s, batch);
      fetches[`present_${s.name}`] = t.tensor(s.dtype, zeros(s, dims.reduce((a, b) => a * b, 1)), dims);
    }
    return fetches;
  }

  private checkIds(ids: BigInt64Array): void {
    const vocab = BigInt(this.spec.vocab);
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i]!;
      if (v < 0n || v >= vocab) throw new UserError(`input_ids[${i}] = ${v} is outside the vocabulary [0, ${vocab})`);
    }
  }

  private logitsOf(out: Record<string, Tensor>, dims: number[], session: Session): Logits {
    const t = out.logits!;
    if (t.type !== "float32" || !sameDims(t.dims, dims)) {
      throw new UserError(
        `${session.path} returned logits ${t.type} ${show(t.dims)}, expected float32 ${show(dims)}`,
        "the checkpoint does not match its card (vocab?): re-export it (pnpm export)",
      );
    }
    const logits = t.data as Float32Array;
    if (this.checkFinite) assertFinite(`logits of ${session.path}`, logits);
    return { logits, dims: dims as Logits["dims"] };
  }

  private presentOf(out: Record<string, Tensor>, s: StateTensor, batch: number, session: Session): Tensor {
    const t = out[`present_${s.name}`]!;
    if (!fits(s, t.dims, batch)) {
      throw new UserError(
        `${session.path} returned present_${s.name} of shape ${show(t.dims)}; the card says ${show(s.shape)} (batch ${batch})`,
        "the checkpoint does not match its card: re-export it (pnpm export)",
      );
    }
    return t;
  }
}

function checkCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${what} must be a positive integer, got ${n}`);
}

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The graph must have the card's inputs/outputs (and, for inputs, no others: nothing else would be fed). */
function expectNames(session: Session, kind: "input" | "output", expected: string[], exact: boolean): void {
  const names = kind === "input" ? session.inputNames : session.outputNames;
  const missing = expected.filter((n) => !names.includes(n));
  const extra = exact ? names.filter((n) => !expected.includes(n)) : [];
  if (missing.length || extra.length) {
    const parts = [missing.length && `lacks ${missing.join(", ")}`, extra.length && `has unexpected ${extra.join(", ")}`];
    throw new UserError(
      `${session.path} ${parts.filter(Boolean).join(" and ")} among its ${kind}s (${kind}s: ${names.join(", ")})`,
      "the graph and the card's state list disagree: re-export the model (pnpm export)",
    );
  }
}
