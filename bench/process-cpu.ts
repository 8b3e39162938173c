/** CPU time (user + system) a process has spent so far, in ms, from /proc (Linux; USER_HZ = 100). */
import { readFileSync } from 'node:fs';

export function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
