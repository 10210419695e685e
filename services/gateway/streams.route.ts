import type { ServerResponse } from 'node:http';
import type { Context, Service } from 'moleculer';
import { runImport } from './bulk';
import { streamExport } from './export';
import { sendProblem, type GatewayRequest } from './http';

/**
 * The routes whose bodies stream (POST /devices/bulk in, GET /devices/export out): no body parser,
 * handlers of their own. A named route on the API's path: moleculer-web tries `/devices/export`
 * before the API route's `/devices/:id`.
 */
export function streamsRoute(base: string) {
  return {
    name: 'streams',
    path: base,
    mappingPolicy: 'restrict',
    mergeParams: false,
    autoAliases: false,
    bodyParsers: false,
    authentication: true,
    authorization: true,
    aliases: {
      'POST /devices/bulk'(this: Service, req: GatewayRequest, res: ServerResponse) {
        const ctx = req.$ctx;
        if (!ctx) return sendProblem.call(this, req, res, new Error('no context'));
        runImport(ctx, req, req.$params?.query ?? {})
          .then((report) => {
            res.setHeader('Content-Type', 'application/json; charset=utf-8');
            res.end(JSON.stringify(report));
          })
          .catch((err: unknown) => sendProblem.call(this, req, res, err));
      },
      'GET /devices/export'(this: Service, req: GatewayRequest, res: ServerResponse) {
        const ctx = req.$ctx;
        if (!ctx) return sendProblem.call(this, req, res, new Error('no context'));
        streamExport(ctx, req, res, req.$params?.query ?? {}).catch((err: unknown) => {
          // once rows are out, a clean end would pass for a complete export: cut it instead
          if (res.headersSent) {
            this.logger.error('export failed', { requestId: req.$requestId, err });
            res.destroy();
          } else sendProblem.call(this, req, res, err);
        });
      },
    },
    onBeforeCall(
      this: Service,
      ctx: Context<unknown, Record<string, unknown>>,
      _r: unknown,
      req: GatewayRequest,
    ) {
      ctx.meta.requestId = req.$requestId;
    },
    onError(this: Service, req: GatewayRequest, res: ServerResponse, err: unknown) {
      sendProblem.call(this, req, res, err);
    },
  };
}
