/*
 * Merging the Prometheus text expositions of several processes into one: each metric family once,
 * with its HELP and TYPE once and the series of every process under it. Processes label their series
 * with `node` and `app`, so series of different processes never collide; a series seen twice (two
 * nodes in one process, as in tests, share one registry) is kept once.
 */

interface Family {
  help?: string;
  type?: string;
  /** series (name and labels) → sample line */
  samples: Map<string, string>;
}

/** The series part of a sample line: its name and labels, without value and timestamp. */
function seriesOf(line: string): string {
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  if (brace < 0 || (space >= 0 && space < brace)) return space < 0 ? line : line.slice(0, space);
  let quoted = false;
  for (let i = brace + 1; i < line.length; i += 1) {
    const c = line[i];
    if (quoted && c === '\\') i += 1;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '}') return line.slice(0, i + 1);
  }
  return line;
}

export function mergeExpositions(texts: Iterable<string>): string {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { samples: new Map() }));
    return f;
  };
  for (const text of texts) {
    let current: Family | undefined;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
      if (meta) {
        const [, kind = '', name = '', rest = ''] = meta;
        current = family(name);
        if (kind === 'HELP') current.help ??= rest;
        else current.type ??= rest;
        continue;
      }
      if (line.startsWith('#')) continue;
      const series = seriesOf(line);
      // a sample belongs to the family announced before it (histograms: _bucket, _sum, _count)
      const target = current ?? family(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(series)?.[0] ?? series);
      if (!target.samples.has(series)) target.samples.set(series, line);
    }
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    if (f.help !== undefined) out.push(`# HELP ${name} ${f.help}`);
    if (f.type !== undefined) out.push(`# TYPE ${name} ${f.type}`);
    out.push(...f.samples.values());
  }
  return `${out.join('\n')}\n`;
}
