// A one-node Slurm cluster on localhost for tests (Debian's slurm-wlm and munge, as root): its own munge key and
// socket, a generated slurm.conf on free ports, every file in one temporary folder, so the system's /etc/slurm and
// any running munged are left alone. See /docs/cluster.md for the recipe it tests.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, freemem, hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { ResultRow } from "@ssmbench/core";

const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;

/** Why a local Slurm cannot start here (undefined: it can). */
export function localSlurmMissing(): string | undefined {
  const missing = ["slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "munged", "mungekey"].filter((c) => !has(c));
  if (missing.length) return `${missing.join(", ")} not installed (apt-get install -y slurm-wlm munge; .ci/run does it on CI)`;
  if (process.getuid?.() !== 0) return "the daemons must be started as root (slurmd runs jobs as their user)";
  if (spawnSync("id", ["-u", "munge"], { stdio: "ignore" }).status !== 0) return "no munge user (the munge package creates it)";
  return undefined;
}

export interface LocalSlurm {
  dir: string;
  /** Environment for sbatch/squeue/scontrol: SLURM_CONF points at the generated config. */
  env: NodeJS.ProcessEnv;
  /** Runs a Slurm client command; throws with its stderr on failure. */
  run(cmd: string, args: string[]): string;
  /** Waits until none of the jobs is queued or running; throws after `timeoutMs` with the queue and the daemons' logs. */
  waitFor(jobs: string[], timeoutMs: number): Promise<void>;
  /** JobState and ExitCode of a finished job, one per task of an array, from scontrol (no accounting here). */
  jobStates(job: string): { id: string; state: string; exitCode: string }[];
  logs(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${why()}`);
    await sleep(200);
  }
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Starts munged, slurmctld and slurmd (in the foreground, as children of this process) and waits for an idle node. */
export async function startLocalSlurm(): Promise<LocalSlurm> {
  const dir = mkdtempSync(join(tmpdir(), "ssmbench-slurm-"));
  chmodSync(dir, 0o755);
  const uid = Number(execFileSync("id", ["-u", "munge"], { encoding: "utf8" }));
  const gid = Number(execFileSync("id", ["-g", "munge"], { encoding: "utf8" }));
  const munge = join(dir, "munge");
  mkdirSync(munge, { mode: 0o755 });
  chownSync(munge, uid, gid);
  const key = join(munge, "munge.key");
  execFileSync("mungekey", ["--create", "--keyfile", key], { stdio: "ignore" });
  chownSync(key, uid, gid);
  chmodSync(key, 0o600);
  const socket = join(munge, "munge.socket");
  const children: ChildProcess[] = [];
  const start = (cmd: string, args: string[], opts: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv } = {}) => {
    const child = spawn(cmd, args, { stdio: "ignore", ...opts });
    child.on("error", () => {}); // reported through exitCode / the logs
    children.push(child);
    return child;
  };
  start("munged", ["--foreground", `--socket=${socket}`, `--key-file=${key}`, `--pid-file=${join(munge, "munged.pid")}`, `--log-file=${join(munge, "munged.log")}`, `--seed-file=${join(munge, "munged.seed")}`], { uid, gid });

  const host = hostname().split(".")[0]!;
  const cpus = Math.min(2, availableParallelism());
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  for (const sub of ["state", "spool"]) mkdirSync(join(dir, sub));
  const conf = join(dir, "slurm.conf");
  writeFileSync(
    conf,
    [
      "ClusterName=ssmbench-test",
      `SlurmctldHost=${host}(127.0.0.1)`,
      "SlurmUser=root",
      "SlurmdUser=root",
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${join(dir, "state")}`,
      `SlurmdSpoolDir=${join(dir, "spool")}`,
      `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
      `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
      `SlurmctldLogFile=${join(dir, "slurmctld.log")}`,
      `SlurmdLogFile=${join(dir, "slurmd.log")}`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core",
      "SchedulerType=sched/backfill",
      "MpiDefault=none",
      "ReturnToService=2",
      "DependencyParameters=kill_invalid_depend",
      "MailProg=/bin/true",
      "AccountingStorageType=accounting_storage/none",
      "JobCompType=jobcomp/none",
      "JobAcctGatherType=jobacct_gather/none",
      "MinJobAge=300",
      `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} Sockets=1 CoresPerSocket=${cpus} ThreadsPerCore=1 RealMemory=${Math.max(256, Math.floor((freemem() / 2 ** 20) * 0.8))} State=UNKNOWN`,
      `PartitionName=test Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
      "",
    ].join("\n"),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const logs = () =>
    ["munge/munged.log", "slurmctld.log", "slurmd.log"]
      .map((f) => {
        let text = "";
        try {
          text = readFileSync(join(dir, f), "utf8").split("\n").slice(-15).join("\n");
        } catch {}
        return `--- ${f}\n${text}`;
      })
      .join("\n");
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { env, encoding: "utf8", timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.error ?? ""}\n${logs()}`);
    return r.stdout;
  };

  const stop = async () => {
    spawnSync("scontrol", ["shutdown"], { env, stdio: "ignore", timeout: 10_000 });
    // slurmctld and slurmd exit on shutdown; munged (and anything left) on SIGTERM; each waited for.
    for (const child of [...children].reverse()) {
      if (!(await exited(child, 5_000))) child.kill("SIGTERM");
      if (!(await exited(child, 5_000))) child.kill("SIGKILL");
      await exited(child, 2_000);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const mungeOk = () => {
      const cred = spawnSync("munge", ["-n", "-S", socket], { encoding: "utf8" });
      return cred.status === 0 && spawnSync("unmunge", ["-S", socket], { input: cred.stdout, stdio: ["pipe", "ignore", "ignore"] }).status === 0;
    };
    await until("munged", mungeOk, 15_000, logs);
    start("slurmctld", ["-D", "-i"], { env });
    start("slurmd", ["-D", "-N", host], { env });
    await until("an idle Slurm node", () => spawnSync("sinfo", ["-h", "-N", "-o", "%T"], { env, encoding: "utf8" }).stdout?.trim() === "idle", 30_000, logs);
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    dir,
    env,
    run,
    logs,
    stop,
    async waitFor(jobs, timeoutMs) {
      await until(`jobs ${jobs.join(", ")}`, () => run("squeue", ["-h", "-j", jobs.join(","), "-o", "%i %T"]).trim() === "", timeoutMs, () => `${run("squeue", ["-a"])}\n${logs()}`);
    },
    jobStates(job) {
      return run("scontrol", ["show", "job", "-o", job])
        .split("\n")
        .filter((line) => line.includes("JobId="))
        .map((line) => {
          const field = (name: string) => new RegExp(`\\b${name}=(\\S+)`).exec(line)?.[1] ?? "?";
          const task = field("ArrayTaskId");
          return { id: task === "?" ? field("JobId") : `${field("ArrayJobId")}_${task}`, state: field("JobState"), exitCode: field("ExitCode") };
        })
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    },
  };
}

/**
 * What must be equal between two runs of one matrix, whoever ran them: every row's identity and status, and the
 * measured values that are deterministic (accuracy, bits per byte and perplexity with their intervals and counts,
 * state bytes). Timings, timestamps, run ids and notes (which quote the load average) are left out.
 */
export function comparableRows(rows: readonly ResultRow[]) {
  const exact = new Set(["accuracy", "bits_per_byte", "perplexity", "state_bytes"]);
  return rows
    .map((r) => ({
      model: r.model, checkpoint_sha256: r.checkpoint_sha256, runtime: r.runtime, runtime_version: r.runtime_version, ep: r.ep, task: r.task, task_version: r.task_version,
      split: r.split, seq_len: r.seq_len, batch: r.batch, metric: r.metric, status: r.status,
      ...(exact.has(r.metric) ? { value: r.value, ci_low: r.ci_low, ci_high: r.ci_high, n: r.n } : {}),
    }))
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}
