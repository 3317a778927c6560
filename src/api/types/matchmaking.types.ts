import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { EstimateSource, HistoryPool } from '../../domain/matchmaking';
import { Cloud } from './cloud.types';
import './enums';

@ObjectType({ description: 'One term of a time-to-capacity estimate and where it comes from.' })
export class EstimateTerm {
  @Field(() => Float, { description: 'Seconds.' })
  seconds!: number;

  @Field(() => EstimateSource, { description: 'LEARNED from finished jobs, a DEFAULT constant, or zero because of a STANDBY_IMAGE or NOT_NEEDED.' })
  source!: EstimateSource;

  @Field(() => Int, { description: 'LEARNED: how many finished jobs the median is of (at most 10, the newest); 0 otherwise.' })
  jobs!: number;

  @Field(() => HistoryPool, { nullable: true, description: 'LEARNED: which jobs (same cloud pair and VM type, same pair, same target); null otherwise.' })
  pool!: HistoryPool | null;
}

@ObjectType({
  description:
    'Estimated time to capacity of a clone into one cloud: snapshot + transfer (image bytes over the effective bandwidth) + boot + configure, each learned from your finished clone jobs or a default until there are some.',
})
export class TimeEstimate {
  @Field(() => Float, { description: 'The sum of the four terms, in seconds.' })
  totalSeconds!: number;

  @Field(() => EstimateTerm, { description: 'Nova snapshot of the source server (SNAPSHOT phase).' })
  snapshot!: EstimateTerm;

  @Field(() => EstimateTerm, { description: 'Image bytes over the bandwidth (TRANSFER and IMPORT phases); its source is that of the bandwidth.' })
  transfer!: EstimateTerm;

  @Field(() => EstimateTerm, { description: 'Server build and network (BOOT and NETWORK phases).' })
  boot!: EstimateTerm;

  @Field(() => EstimateTerm, { description: 'Configuration, monitoring and load balancer registration (CONFIGURE, MONITORING, LOAD_BALANCER phases).' })
  configure!: EstimateTerm;

  @Field(() => Float, { nullable: true, description: 'Bytes the transfer moves (the source server\'s image size); null when there is no transfer.' })
  imageBytes!: number | null;

  @Field({ description: 'The image size was unknown and 2 GiB was assumed.' })
  imageBytesAssumed!: boolean;

  @Field(() => Float, { nullable: true, description: 'Bandwidth of the transfer term in bytes/s: learned effective (bytes moved / TRANSFER+IMPORT seconds) or the declared link; null when there is no transfer.' })
  bytesPerSecond!: number | null;

  @Field(() => ID, { nullable: true, description: 'The fresh standby image a clone there would boot from (snapshot and transfer zero); null when none.' })
  standbyImageId!: string | null;
}

@ObjectType({
  description:
    'A cloud assessed by the matchmaker as the target of a clone of one VM: excluded by a hard filter (visibility, health, policy, instance quota, disk format, bootability), or eligible and ranked by estimated time to capacity, then health, cost, free instances and name.',
})
export class CloudCandidate {
  @Field(() => Cloud, { description: 'The cloud assessed.' })
  cloud!: Cloud;

  @Field({ description: 'Whether a clone may go there: no filter excluded it.' })
  eligible!: boolean;

  @Field(() => Int, { nullable: true, description: 'Place among the eligible clouds, 1 = where a clone would go; null when excluded.' })
  rank!: number | null;

  @Field(() => Float, {
    description:
      'Estimated seconds until the clone serves: snapshot + transfer + boot + configure (see estimate for each term). Estimates in the same whole second count as equal for ranking.',
  })
  estimatedSecondsToCapacity!: number;

  @Field(() => TimeEstimate, { description: 'Every term of that estimate and where it comes from.' })
  estimate!: TimeEstimate;

  @Field(() => Int, { nullable: true, description: 'Instances your project there can still start (Nova limits); null when unlimited or unknown (see reasons).' })
  freeInstances!: number | null;

  @Field(() => Float, { nullable: true, description: 'Age in seconds of the quota answer when it came from the cache (MATCHMAKING_CACHE_SECONDS); null when read for this answer or unknown.' })
  quotaAgeSeconds!: number | null;

  @Field(() => Float, { description: 'The cloud\'s cost hint per VM-hour.' })
  costPerHour!: number;

  @Field(() => [String], { description: 'Excluded: every filter that excluded it, in words. Eligible: the inputs of its ranking (estimate terms, health, quota, cost).' })
  reasons!: string[];
}

@ObjectType({ description: 'One cloud as the matchmaker saw it when it placed a clone.' })
export class PlacementCandidate {
  @Field(() => ID, { description: 'The cloud.' })
  cloudId!: string;

  @Field({ description: 'Its name then.' })
  cloudName!: string;

  @Field({ description: 'Whether it was eligible.' })
  eligible!: boolean;

  @Field(() => Int, { nullable: true, description: 'Its rank among the eligible; null when excluded.' })
  rank!: number | null;

  @Field(() => Float, { description: 'Estimated seconds to capacity.' })
  estimatedSecondsToCapacity!: number;

  @Field(() => TimeEstimate, { description: 'Every term of the estimate.' })
  estimate!: TimeEstimate;

  @Field(() => Int, { nullable: true, description: 'Free instances; null when unlimited or unknown.' })
  freeInstances!: number | null;

  @Field(() => Float, { nullable: true, description: 'Age in seconds of a cached quota answer; null when read fresh or unknown.' })
  quotaAgeSeconds!: number | null;

  @Field(() => Float, { description: 'Cost hint per VM-hour.' })
  costPerHour!: number;

  @Field(() => [String], { description: 'Why excluded, or the inputs of its ranking, in words.' })
  reasons!: string[];
}

@ObjectType({ description: 'Why a clone went where it went: the matchmaker\'s choice and every candidate with its verdict, as decided.' })
export class Placement {
  @Field(() => ID, { description: 'The cloud chosen (rank 1).' })
  chosenCloudId!: string;

  @Field({ description: 'Its name then.' })
  chosenCloudName!: string;

  @Field({ description: 'When the matchmaker decided.' })
  decidedAt!: Date;

  @Field(() => [PlacementCandidate], { description: 'Every cloud assessed: the eligible ones in rank order, then the excluded ones.' })
  candidates!: PlacementCandidate[];
}
