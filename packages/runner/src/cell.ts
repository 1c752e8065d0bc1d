// One cell of the bench matrix (an accuracy setting, a prefill length, the decode timing) runs in isolation: it gets
// a time budget, and whatever it throws becomes that cell's row status instead of ending the run.
import type { RowStatus } from "@ssmbench/core";
import type { RecurrentDriver } from "@ssmbench/runtime";

export class CellTimeoutError extends Error {
  override name = "CellTimeoutError";
}

/**
 * Runs `fn` with a driver that refuses to start another prefill or step once `budgetMs` has passed, and rejects
 * at the budget even while one onnxruntime call is still running (the call itself cannot be interrupted; its result
 * is dropped, and the next cell starts from a fresh prefill). No budget: runs `fn` as it is.
 */
export async function withBudget<T>(driver: RecurrentDriver, budgetMs: number | undefined, fn: (d: RecurrentDriver) => Promise<T>): Promise<T> {
  if (budgetMs === undefined) return fn(driver);
  const started = performance.now();
  const over = () => new CellTimeoutError(`cell exceeded --cell-timeout ${budgetMs / 1000} s (ran ${((performance.now() - started) / 1000).toFixed(2)} s)`);
  const guarded = new Proxy(driver, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop !== "prefill" && prop !== "step" && prop !== "stepThrough") return value.bind(target);
      return (...args: unknown[]) => {
        if (performance.now() - started > budgetMs) throw over();
        return value.apply(target, args);
      };
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(over()), budgetMs);
  });
  try {
    return await Promise.race([fn(guarded), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A failed cell's row status: nan (non-finite logits), oom, timeout or error. */
export function statusOf(e: unknown): RowStatus {
  const m = String((e as Error)?.message ?? e);
  const name = (e as Error)?.name;
  if (name === "NonFiniteError") return "nan";
  if (name === "CellTimeoutError") return "timeout";
  // onnxruntime: "Failed to allocate memory", std::bad_alloc; V8 / wasm: "Array buffer allocation failed", "Out of memory".
  if (/out of memory|bad_alloc|bad allocation|failed to allocate|allocation failed|Array buffer allocation|Invalid typed array length/i.test(m)) return "oom";
  return "error";
}

/** An error's first line, bounded: the note of a row that failed. */
export const oneLine = (e: unknown) => String((e as Error)?.message ?? e).split("\n")[0]!.slice(0, 300);
