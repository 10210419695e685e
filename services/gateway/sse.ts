import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServiceBroker } from 'moleculer';
import type { DomainEvent } from '../../shared/events';

/*
 * GET /api/v1/events/stream: the event log as Server-Sent Events. Each event goes out with
 * `id: <position>`; a client that reconnects with `Last-Event-ID` (or `?after=`) gets exactly what it
 * missed, then live events. Comments keep idle connections open through proxies. A slow client is
 * never buffered without bound: the next page is read only once the socket has drained.
 */

const HEARTBEAT_MS = 15_000;
const IDLE_POLL_MS = 300;
const PAGE = 200;

interface Page {
  data: DomainEvent[];
}

export interface StreamOptions {
  broker: ServiceBroker;
  /** filters of GET /events, already as query strings */
  query: Record<string, unknown>;
  meta: Record<string, unknown>;
}

export async function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  opts: StreamOptions,
): Promise<void> {
  const lastEventId = req.headers['last-event-id'];
  const fromHeader =
    typeof lastEventId === 'string' && /^\d{1,15}$/.test(lastEventId) ? lastEventId : undefined;
  const { after: _ignored, ...filters } = opts.query;
  let after = Number(fromHeader ?? (typeof opts.query.after === 'string' ? opts.query.after : 0)) || 0;

  // the first page validates the filters: a bad one is a 400 before the stream starts
  let page = await opts.broker.call<Page, unknown>(
    'events.list',
    { query: { ...filters, after: String(after), limit: String(PAGE) } },
    { meta: opts.meta },
  );

  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.write('retry: 2000\n\n');

  let open = true;
  req.on('close', () => {
    open = false;
  });
  let lastWrite = Date.now();

  const write = async (chunk: string) => {
    lastWrite = Date.now();
    if (res.write(chunk)) return;
    // back-pressure: wait for the socket to drain (or go away) before writing more
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done).off('close', done);
        resolve();
      };
      res.on('drain', done).on('close', done);
    });
  };

  // a stopping gateway ends its streams (clients reconnect elsewhere with Last-Event-ID), or the
  // HTTP server's close, and so the shutdown, would wait for them for ever
  const live = () => open && !opts.broker.stopping;
  while (live()) {
    for (const event of page.data) {
      if (!open) break;
      await write(`id: ${event.position}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      after = event.position;
    }
    if (page.data.length < PAGE) {
      await new Promise((r) => setTimeout(r, IDLE_POLL_MS));
      if (Date.now() - lastWrite > HEARTBEAT_MS) await write(': keep-alive\n\n');
    }
    if (!live()) break;
    try {
      page = await opts.broker.call<Page, unknown>(
        'events.list',
        { query: { ...filters, after: String(after), limit: String(PAGE) } },
        { meta: opts.meta },
      );
    } catch {
      // the log is unreachable for now: say so as a comment and try again; the client keeps its place
      page = { data: [] };
      await write(': events unavailable, retrying\n\n');
    }
  }
  res.end();
}
