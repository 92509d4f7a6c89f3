/**
 * The tRPC set-up: the instance, the error shape, the NUL guard and the procedure kinds. Every
 * procedure kind but the public one runs in a request transaction (request/transaction.ts).
 */
import { fieldWithNul } from './input/nul.js';
import { z } from 'zod';
import { initTRPC, TRPCError } from '@trpc/server';
import { InsufficientAuthentication } from './auth/assurance.js';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { sqlStateOf } from './errors.js';
import { inRequestTransaction, type RoleChoice } from './request/transaction.js';
import type { RequestContext } from './request/request-context.js';

export type { RequestContext } from './request/request-context.js';

/** `field: what is wrong` for each issue, joined: what a person reads in an error message */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : 'input'}: ${issue.message}`).join('; ');
}

const t = initTRPC
  .context<RequestContext>()
  .meta<OpenApiMeta>()
  .create({
    isDev: false,
    errorFormatter({ shape, error }) {
      // never a stack trace; the SQLSTATE lets a client tell our errors apart; an invalid input
      // is a sentence per field, not zod's issue list encoded as JSON
      const message = error.cause instanceof z.ZodError ? describeIssues(error.cause) : shape.message;
      // a step-up refusal says what to ask the identity provider for (the pages follow it)
      const stepUp = error.cause instanceof InsufficientAuthentication ? { step_up: error.cause.stepUp } : {};
      return { ...shape, message, data: { code: shape.data.code, httpStatus: shape.data.httpStatus, sqlstate: sqlStateOf(error) ?? null, ...stepUp } };
    },
  });

export const router = t.router;

/** every procedure refuses U+0000 in any string of its input, on both transports */
const textOnly = t.procedure.use(async ({ getRawInput, next }) => {
  const field = fieldWithNul(await getRawInput());
  if (field !== undefined) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `${field || 'the input'}: contains U+0000 (a NUL character), which a text field cannot hold` });
  }
  return next();
});
export const publicProcedure = textOnly;
export const createCallerFactory = t.createCallerFactory;

/** the procedure kind for the given role choices: every procedure of it runs in a request transaction */
const transactional = (choices: readonly RoleChoice[], options: { stepUp?: boolean } = {}) =>
  t.middleware(({ ctx, next }) => inRequestTransaction(ctx, choices, ({ ctx: added }) => next({ ctx: added }), options));

/** the data protection officer's database role, and the token role that earns it */
export const DPO_ROLES: readonly RoleChoice[] = [{ role: 'compliance_dpo', tokenRole: 'dpo' }];
/** the DPO's, else the auditor's */
export const REVIEWER_ROLES: readonly RoleChoice[] = [{ role: 'compliance_dpo', tokenRole: 'dpo' }, { role: 'compliance_auditor', tokenRole: 'auditor' }];

/** acts for the authenticated subject, as compliance_app: row-level security limits it to its own rows */
export const subjectProcedure = textOnly.use(transactional([{ role: 'compliance_app', tokenRole: null }]));
/** acts as the data protection officer, as compliance_dpo: needs the token role dpo */
export const dpoProcedure = textOnly.use(transactional(DPO_ROLES));
/** a workforce member, as compliance_staff: needs the token role staff */
export const staffProcedure = textOnly.use(transactional([{ role: 'compliance_staff', tokenRole: 'staff' }]));
/** approves workforce access and reviews emergency access, as compliance_approver: needs the token role approver */
export const approverProcedure = textOnly.use(transactional([{ role: 'compliance_approver', tokenRole: 'approver' }]));
/**
 * The gravest actions need a sign-in from the last STEP_UP_MAX_AGE_SECONDS (auth_time), on top of
 * the role's multi-factor authentication: erasure, releasing a legal hold, closing a breach
 * (DPO), break-glass (staff), granting and approving access (approver).
 */
export const dpoStepUpProcedure = textOnly.use(transactional(DPO_ROLES, { stepUp: true }));
export const staffStepUpProcedure = textOnly.use(transactional([{ role: 'compliance_staff', tokenRole: 'staff' }], { stepUp: true }));
export const approverStepUpProcedure = textOnly.use(transactional([{ role: 'compliance_approver', tokenRole: 'approver' }], { stepUp: true }));
/** reads the PHI access log: as compliance_dpo for a DPO, else as compliance_auditor for an auditor */
export const reviewerProcedure = textOnly.use(transactional(REVIEWER_ROLES));
