import { readFileSync } from 'node:fs';

/** CPU time (user + system) a process has used so far, in ms (Linux /proc, clock ticks of 10 ms); 0 when unknown. */
export function cpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
