/** The broker's typed SDK: client, error class and every generated operation and type. */
export { graphqlUrl, IntercloudClient } from './client';
export type { AuditEvent, CloneJobEvent, IntercloudClientOptions, ScaleDownJobEvent, ScalingDecisionEvent } from './client';
export { IntercloudError } from './errors';
export type { GraphQLErrorShape, IntercloudErrorCode } from './errors';
export type { Operation } from './http';
export type { ConnectionState, ResumeOptions, SubscriptionHandlers } from './subscriptions';
export * from './generated/graphql';
