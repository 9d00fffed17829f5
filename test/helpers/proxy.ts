import type { Config } from '../../lib/config.js';
import { startProxy, type RunningProxy } from '../../proxy/server.js';
import type { Catalog } from '../../schemas/catalog.js';

/** Starts a proxy in this process on a free port and waits until /readyz would say ready. */
export async function startReadyProxy(config: Config, catalog: Catalog): Promise<RunningProxy> {
  const proxy = await startProxy({ ...config, proxy: { ...config.proxy, port: 0 } }, catalog);
  for (let i = 0; i < 100 && !proxy.ctx.state.ready; i++) await new Promise((r) => setTimeout(r, 100));
  if (!proxy.ctx.state.ready) {
    await proxy.stop();
    throw new Error(`the test proxy did not become ready: ${proxy.ctx.state.reason}`);
  }
  return proxy;
}
