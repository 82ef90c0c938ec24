/**
 * Fuzz child: runs the cases it is given one after another and reports each on stdout
 * ("S <i>" before, "E <i> <outcome>\t<op>\t<kind>\t<detail>" after, "DONE" at the end), written
 * synchronously so the parent knows which case was running when the process died.
 *   node --expose-gc dist/test/fuzz/child.js --seed S --cases 0-99,120 [--ops a,b] [--kinds k]
 */
import fs from 'node:fs';
import { buildCase, outcomeOf } from './cases';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
export function parseList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    for (let i = a!; i <= (b ?? a!); i++) out.push(i);
  }
  return out;
}

const say = (s: string) => fs.writeSync(1, s + '\n');
let current = -1;
let late: string | undefined;
process.on('unhandledRejection', (e) => {
  late ??= `throw:unhandledRejection: ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`;
});
process.on('uncaughtException', (e) => {
  late ??= `throw:uncaughtException: ${e.constructor.name}: ${e.message}`;
});

async function main(): Promise<void> {
  const seed = Number(arg('seed') ?? 1);
  const list = parseList(arg('cases') ?? '0-9');
  const only = { ops: arg('ops')?.split(','), kinds: arg('kinds')?.split(',') };
  for (const i of list) {
    current = i;
    say(`S ${i}`);
    let outcome: string;
    let op = '?', kind = '?', detail = '';
    let risky = false;
    const t0 = Date.now();
    try {
      const c = buildCase(seed, i, only);
      op = c.op;
      kind = c.kind;
      detail = c.detail;
      risky = c.risky;
      say(`B ${i}\t${op}\t${kind}\t${detail.replace(/[\t\n]/g, ' ')}`);
      outcome = await outcomeOf(c.run);
      // let callbacks of this case (late rejections, worker exits) land on it
      await new Promise((res) => setImmediate(res));
    } catch (e) {
      outcome = `harness:${(e as Error).message}`;
    }
    if (late !== undefined && !outcome.startsWith('throw:')) outcome = late;
    late = undefined;
    const restart = risky && i !== list[list.length - 1];
    say(`E ${i} ${outcome.replace(/[\t\n]/g, ' ')}\t${op}\t${kind}\t${detail.replace(/[\t\n]/g, ' ')}\t${Date.now() - t0}`);
    // heap damage from this case would crash a later, innocent one: the runner goes on in a new process
    if (restart) {
      say('RESTART');
      return;
    }
  }
  current = -1;
  say('DONE');
}
void main().then(() => process.exit(0));
export { current };
