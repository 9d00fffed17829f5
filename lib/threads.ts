// Worker threads whose entry is a module next to the caller: `<name>.js` when built, `<name>.ts`
// when run from source with tsx, whose loader must then be registered in the thread first.
import { Worker, type ResourceLimits } from 'node:worker_threads';

/** Starts `./<module>` (relative to `callerUrl`, the caller's import.meta.url) as a worker thread. */
export function startThread(
  callerUrl: string,
  module: string,
  workerData: unknown,
  name: string,
  resourceLimits?: ResourceLimits,
): Worker {
  const isTs = callerUrl.endsWith('.ts');
  const entry = new URL(`./${module}${isTs ? '.ts' : '.js'}`, callerUrl);
  const options = { workerData, name, ...(resourceLimits ? { resourceLimits } : {}) };
  if (!isTs) return new Worker(entry, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, ...options });
}
