import { SluiceError } from '../../lib/errors.js';
import { lastLines, runCommand } from '../run-command.js';
import { findGo } from '../toolchain.js';

/** `go install module/cmd@version` into binDir, through the Go module proxy only. */
export async function goInstall(part: string, pkg: string, version: string, binDir: string): Promise<void> {
  const go = await findGo();
  const r = await runCommand(go, ['install', `${pkg}@${version}`], {
    env: { ...process.env, GOBIN: binDir, GOFLAGS: '-mod=mod', CGO_ENABLED: process.env.CGO_ENABLED ?? '0' },
  });
  if (r.code !== 0) {
    throw new SluiceError(
      'TOOL_BUILD_FAILED',
      `[${part}] go install ${pkg}@${version} failed (is the Go module proxy reachable? is Go new enough?):\n${lastLines(r.output)}`,
    );
  }
}
