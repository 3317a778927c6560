import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { CloneEventKind, CloneJobPurpose, ClonePhase, CloneJobState } from './enums';

@ObjectType({ description: 'Timing of one phase of a clone job.' })
export class PhaseTiming {
  @Field(() => ClonePhase, { description: 'The phase.' })
  phase!: ClonePhase;

  @Field({ description: 'When it started.' })
  startedAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When it finished; null while running.' })
  finishedAt!: Date | null;

  @Field(() => Int, { nullable: true, description: 'Duration in ms; null while running.' })
  durationMs!: number | null;
}

@ObjectType({ description: 'Why a clone job failed.' })
export class CloneJobError {
  @Field({ description: 'Error code (as in GraphQL extensions.code).' })
  code!: string;

  @Field({ description: 'What went wrong, naming the cloud and operation.' })
  message!: string;
}

@ObjectType({ description: 'One clone of one VM into one target cloud.' })
export class CloneJob {
  @Field(() => ID, { description: 'Job id.' })
  id!: string;

  @Field({ description: 'Name of the clone server.' })
  name!: string;

  @Field({ description: 'Idempotency key given (or generated) at creation.' })
  idempotencyKey!: string;

  @Field(() => ClonePhase, { description: 'Current (or last) phase.' })
  phase!: ClonePhase;

  @Field(() => CloneJobPurpose, { description: 'CLONE (a running clone) or STANDBY (a standby image only, from prepareStandby).' })
  purpose!: CloneJobPurpose;

  @Field(() => CloneJobState, { description: 'Lifecycle state.' })
  state!: CloneJobState;

  @Field(() => Float, { nullable: true, description: 'Image size in bytes, once known.' })
  bytesTotal!: number | null;

  @Field(() => Float, { description: 'Bytes streamed to the target so far.' })
  bytesTransferred!: number;

  @Field(() => [PhaseTiming], { description: 'Phases run so far, with timings.' })
  phases!: PhaseTiming[];

  @Field(() => CloneJobError, { nullable: true, description: 'Cause of failure.' })
  error!: CloneJobError | null;

  @Field({ description: 'When the job was created.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the job ended.' })
  finishedAt!: Date | null;
}

@ObjectType({ description: 'An image of a VM type kept ready in a cloud (prepareStandby); clones of the type into that cloud boot from it until it expires.' })
export class StandbyImage {
  @Field(() => ID, { description: 'Standby id.' })
  id!: string;

  @Field(() => ID, { description: 'The VM type it is an image of.' })
  vmTypeId!: string;

  @Field(() => ID, { description: 'The cloud it is in.' })
  cloudId!: string;

  @Field({ description: 'Glance id of the image in that cloud.' })
  imageId!: string;

  @Field(() => ID, { description: 'The VM whose disk it holds.' })
  sourceVmId!: string;

  @Field(() => ID, { description: 'The STANDBY clone job that made it.' })
  createdByJobId!: string;

  @Field({ description: 'When it was made.' })
  createdAt!: Date;

  @Field({ description: 'After this, clones no longer boot from it and the leader deletes it from the cloud (STANDBY_IMAGE_TTL_SECONDS after it was made).' })
  expiresAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the leader deleted it from the cloud; null while it is there.' })
  deletedAt!: Date | null;
}

@ObjectType({ description: 'An edge in a page of clone jobs.' })
export class CloneJobEdge {
  @Field({ description: 'Opaque cursor: pass as `after` to continue after this job.' })
  cursor!: string;

  @Field(() => CloneJob, { description: 'The job.' })
  node!: CloneJob;
}

@ObjectType({ description: 'Where a page ends.' })
export class PageInfo {
  @Field({ description: 'Whether more jobs follow.' })
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Cursor of the last job of this page.' })
  endCursor!: string | null;
}

@ObjectType({ description: 'A page of clone jobs, newest first.' })
export class CloneJobConnection {
  @Field(() => [CloneJobEdge], { description: 'Jobs of this page.' })
  edges!: CloneJobEdge[];

  @Field(() => [CloneJob], { description: 'The same jobs without cursors.' })
  nodes!: CloneJob[];

  @Field(() => PageInfo, { description: 'Paging information.' })
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Jobs matching the filter, in all pages.' })
  totalCount!: number;
}

@ObjectType({ description: 'What the chunked transfer engine sent and saved so far (TRANSFER PROGRESS events with TRANSFER_ENGINE chunked or a cloud with a transfer agent).' })
export class TransferSavings {
  @Field(() => Float, { description: 'Bytes sent over the intercloud link (compressed chunks the target side lacked).' })
  linkBytes!: number;

  @Field(() => Float, { description: 'Image bytes in all-zero chunks, sent as markers.' })
  zeroBytes!: number;

  @Field(() => Float, { description: "Image bytes of chunks the target side already held (this tenant's earlier transfers to this cloud)." })
  dedupBytes!: number;

  @Field(() => Float, { nullable: true, description: 'Image bytes of the chunks sent per byte on the link; null before any was sent.' })
  compressionRatio!: number | null;
}

@ObjectType({ description: 'A clone job event: phase changes, transfer progress, the end. `seq` is dense per job.' })
export class CloneJobEvent {
  @Field(() => Int, { description: 'Sequence number within the job (1, 2, 3, ...); resume with afterSeq.' })
  seq!: number;

  @Field(() => Int, { nullable: true, description: "Position in the tenant's clone updates (cloneJobUpdates only; null on cloneJobEvents): resume cloneJobUpdates with afterSeq set to it." })
  updateSeq?: number | null;

  @Field(() => ID, { description: 'The job.' })
  jobId!: string;

  @Field(() => CloneEventKind, { description: 'What happened.' })
  kind!: CloneEventKind;

  @Field(() => ClonePhase, { description: 'Phase it concerns.' })
  phase!: ClonePhase;

  @Field({ description: 'When.' })
  at!: Date;

  @Field(() => Float, { nullable: true, description: 'Bytes streamed so far.' })
  bytesTransferred!: number | null;

  @Field(() => Float, { nullable: true, description: 'Image size.' })
  bytesTotal!: number | null;

  @Field(() => Float, { nullable: true, description: 'Recent transfer rate.' })
  bytesPerSecond!: number | null;

  @Field(() => Float, { nullable: true, description: 'Estimated seconds until the transfer ends.' })
  etaSeconds!: number | null;

  @Field(() => String, { nullable: true, description: 'Human-readable detail.' })
  message!: string | null;

  @Field(() => TransferSavings, { nullable: true, description: 'PROGRESS of a chunked TRANSFER: bytes on the link and the savings; null for the plain relay.' })
  transfer?: TransferSavings | null;
}

@InputType({ description: 'A clone of one VM into one cloud.' })
export class CloneVmInput {
  @Field(() => ID, { description: 'One of your VMs.' })
  vmId!: string;

  @Field(() => ID, { nullable: true, description: 'Target cloud (own or shared); omit to let the matchmaker pick the best eligible one.' })
  targetCloudId?: string | null;

  @Field(() => String, { nullable: true, description: 'Repeat a request safely: the same key returns the same job (letters, digits, . _ : -; at most 128).' })
  idempotencyKey?: string | null;

  @Field(() => String, { nullable: true, description: 'Server name of the clone (a host name); default derived from the source VM.' })
  name?: string | null;
}
