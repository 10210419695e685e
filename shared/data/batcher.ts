/*
 * Coalesces many small requests into one: `add` queues a key under a group and resolves once the
 * batch holding it is flushed, which happens `waitMs` after the first add or at `maxSize` keys. The
 * event-driven cache invalidation uses it so that a burst of events (a 100 000-row import) costs one
 * Redis round per batch instead of one per event; each message is still acknowledged only after its
 * invalidation has happened.
 */
export class Batcher {
  private pending = new Map<string, Set<string>>();
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private done: { resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(
    private readonly flushBatch: (batch: Map<string, Set<string>>) => Promise<void>,
    private readonly waitMs = 20,
    private readonly maxSize = 500,
  ) {}

  add(group: string, key: string): Promise<void> {
    const keys = this.pending.get(group) ?? new Set<string>();
    keys.add(key);
    this.pending.set(group, keys);
    this.size++;
    const settled = new Promise<void>((resolve, reject) => this.done.push({ resolve, reject }));
    if (this.size >= this.maxSize) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.waitMs);
    return settled;
  }

  private flush() {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    const waiting = this.done;
    this.pending = new Map();
    this.done = [];
    this.size = 0;
    this.flushBatch(batch).then(
      () => waiting.forEach((w) => w.resolve()),
      (err: unknown) => waiting.forEach((w) => w.reject(err)),
    );
  }
}
