import { Field, ID, Int, ObjectType } from 'type-graphql';
import { CloneEventKind, CloneJobState, ScaleDownPhase } from './enums';
import { CloneJobError } from './clone-job.types';

@ObjectType({ description: 'Timing of one phase of a scale-down job.' })
export class ScaleDownPhaseTiming {
  @Field(() => ScaleDownPhase, { description: 'The phase.' })
  phase!: ScaleDownPhase;

  @Field({ description: 'When it started.' })
  startedAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it finished; null while running.' })
  finishedAt!: Date | null;

  @Field(() => Int, { nullable: true, description: 'Duration in ms; null while running.' })
  durationMs!: number | null;
}

@ObjectType({ description: 'The removal of one VM: LB_REMOVE -> DRAIN -> DELETE -> UNMONITOR -> DONE, durable like a clone job.' })
export class ScaleDownJob {
  @Field(() => ID, { description: 'Job id.' })
  id!: string;

  @Field(() => CloneJobState, { description: 'Lifecycle state (the same lifecycle as clone jobs).' })
  state!: CloneJobState;

  @Field(() => ScaleDownPhase, { description: 'Current (or last) phase.' })
  phase!: ScaleDownPhase;

  @Field(() => [ScaleDownPhaseTiming], { description: 'Phases run so far, with timings.' })
  phases!: ScaleDownPhaseTiming[];

  @Field(() => CloneJobError, { nullable: true, description: 'Cause of failure.' })
  error!: CloneJobError | null;

  @Field(() => String, { nullable: true, description: 'Why the removal was started (the caller, or the scheduler).' })
  reason!: string | null;

  @Field({ description: 'When the job was created.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the job ended.' })
  finishedAt!: Date | null;
}

@ObjectType({ description: 'One event of a scale-down job: phase changes, drain readings, the end.' })
export class ScaleDownJobEvent {
  @Field(() => Int, { description: 'Sequence number in the job\'s stream (1, 2, 3 ...): resume with afterSeq.' })
  seq!: number;

  @Field(() => ID, { description: 'The job.' })
  jobId!: string;

  @Field(() => ID, { description: 'The VM being removed.' })
  vmId!: string;

  @Field(() => CloneEventKind, { description: 'What happened.' })
  kind!: CloneEventKind;

  @Field(() => ScaleDownPhase, { description: 'The phase it happened in.' })
  phase!: ScaleDownPhase;

  @Field({ description: 'When.' })
  at!: Date;

  @Field(() => String, { nullable: true, description: 'Human-readable detail.' })
  message!: string | null;

  @Field(() => Number, { nullable: true, description: 'DRAIN: the drain metric\'s last reading.' })
  drainValue!: number | null;
}
