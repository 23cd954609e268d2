/**
 * The caller's own identity: who the presented token or client certificate is, its roles and the
 * permissions they grant. The console asks this at sign-in to check a token and to show only the pages
 * and actions the caller may use (the APIs still decide: hiding a button is a convenience, not a control).
 */
import type { FastifyInstance } from 'fastify';
import type { Platform } from '../../platform.js';
import { guard } from './guard.js';
import { permissionsOf } from './roles.js';

export async function authRoutes(app: FastifyInstance, p: Platform): Promise<void> {
  app.get(
    '/api/v1/auth/whoami',
    {
      onRequest: guard(p, 'auth.whoami'),
      schema: {
        tags: ['auth'],
        summary: "The caller's principal: name, kind, roles and the permissions they grant",
        security: [{ bearer: [] }],
      },
    },
    async (req) => {
      const me = req.principal!;
      return { name: me.name, kind: me.kind, roles: me.roles, permissions: permissionsOf(me.roles) };
    },
  );
}
