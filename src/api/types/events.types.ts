import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { ScalingAction } from './enums';

@ObjectType({ description: 'An audit log entry: who did what, when, to which object.' })
export class AuditEvent {
  @Field(() => Int, { description: 'Sequence number in the tenant\'s audit stream; resume with afterSeq.' })
  seq!: number;

  @Field(() => ID, { nullable: true, description: 'Token that acted; null for the broker itself.' })
  actorTokenId!: string | null;

  @Field({ description: 'What was done, e.g. cloud.register.' })
  action!: string;

  @Field({ description: 'Kind of object, e.g. Cloud.' })
  objectType!: string;

  @Field(() => ID, { description: 'Id of the object.' })
  objectId!: string;

  @Field(() => GraphQLJSONObject, { description: 'Non-secret details.' })
  details!: Record<string, unknown>;

  @Field({ description: 'When.' })
  at!: Date;
}

@ObjectType({ description: 'What the scheduler decided for a VM type, and why.' })
export class ScalingDecision {
  @Field(() => ID, { description: 'Decision id.' })
  id!: string;

  @Field(() => ID, { description: 'The VM type.' })
  vmTypeId!: string;

  @Field(() => ScalingAction, { description: 'The decision.' })
  action!: ScalingAction;

  @Field(() => String, { nullable: true, description: 'Metric that drove it.' })
  metric!: string | null;

  @Field({ description: 'Why, in words.' })
  reason!: string;

  @Field(() => GraphQLJSONObject, { description: 'Samples, threshold and candidate clouds the decision read.' })
  evidence!: Record<string, unknown>;

  @Field(() => ID, { nullable: true, description: 'Clone job it started, if any.' })
  cloneJobId!: string | null;

  @Field({ description: 'When it was decided.' })
  decidedAt!: Date;

  @Field(() => Int, {
    nullable: true,
    description: "Sequence number in your tenant's decision stream (1, 2, 3 ... across VM types): resume the scalingDecisions subscription with afterSeq. Set on subscription events; null when read by query.",
  })
  seq?: number | null;
}
