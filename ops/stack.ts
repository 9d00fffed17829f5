// npm run stack:up|down|status [-- kafka temporal s3 sqs] [--json]
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config.js';
import { runMain } from './main.js';
import { stackDown, stackStatus, stackUp, type ServiceStatus } from './stack-lib.js';

function printStatus(rows: ServiceStatus[]): void {
  const width = Math.max(...rows.map((r) => r.state.length));
  for (const r of rows) {
    const mark = r.state === 'up' || r.state === 'external' ? '●' : '○';
    const ports = r.ports.map((p) => `${p.label} ${p.port}`).join(', ');
    const pid = r.pid !== undefined ? ` pid ${r.pid}` : '';
    process.stdout.write(`${mark} ${r.name.padEnd(9)}${r.state.padEnd(width + 2)}${r.title}\n`);
    process.stdout.write(`  ${''.padEnd(9)}ports: ${ports}${pid}\n  ${''.padEnd(9)}log:   ${r.log}\n`);
  }
}

runMain(async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false } },
  });
  const [command, ...names] = positionals;
  const config = loadConfig();
  switch (command) {
    case 'up':
      await stackUp(config, names);
      printStatus(await stackStatus(config, names));
      return 0;
    case 'down':
      await stackDown(config, names);
      return 0;
    case 'status': {
      const rows = await stackStatus(config, names);
      if (values.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      else printStatus(rows);
      // Non-zero when anything is not up, so scripts can wait on it.
      return rows.every((r) => r.state === 'up' || r.state === 'external') ? 0 : 3;
    }
    default:
      process.stderr.write('usage: tsx ops/stack.ts up|down|status [kafka|temporal|s3|sqs ...] [--json]\n');
      return 2;
  }
});
