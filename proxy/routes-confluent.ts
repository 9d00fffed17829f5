import { Router, type RequestHandler } from 'express';
import type { ProxyContext } from './context.js';

export function confluentRoutes(_ctx: ProxyContext, _raw: RequestHandler, _ready: RequestHandler): Router {
  return Router();
}
