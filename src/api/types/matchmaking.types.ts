import { Field, Float, Int, ObjectType } from 'type-graphql';
import { Cloud } from './cloud.types';

@ObjectType({
  description:
    'A cloud assessed by the matchmaker as the target of a clone of one VM: excluded by a hard filter (visibility, health, policy, instance quota), or eligible and ranked by estimated time to capacity, then health, free instances, cost and name.',
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
      'Estimated seconds until the clone serves: snapshot + image bytes over the slower link of the two clouds (none in the home cloud) + boot. Estimates in the same whole second count as equal for ranking.',
  })
  estimatedSecondsToCapacity!: number;

  @Field(() => Int, { nullable: true, description: 'Instances your project there can still start (Nova limits); null when unlimited or unknown (see reasons).' })
  freeInstances!: number | null;

  @Field(() => Float, { description: 'The cloud\'s cost hint per VM-hour.' })
  costPerHour!: number;

  @Field(() => [String], { description: 'Excluded: every filter that excluded it, in words. Eligible: the inputs of its ranking (transfer estimate, health, quota, cost).' })
  reasons!: string[];
}
