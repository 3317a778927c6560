import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { CloudHealth, CredentialKind } from './enums';

@ObjectType({ description: 'A key=value label, e.g. jurisdiction=DE.' })
export class Label {
  @Field({ description: 'Label key.' })
  key!: string;

  @Field({ description: 'Label value.' })
  value!: string;
}

@InputType({ description: 'A key=value label.' })
export class LabelInput {
  @Field({ description: 'Key: letters, digits, . _ / - (at most 63).' })
  key!: string;

  @Field({ description: 'Value (at most 255 characters).' })
  value!: string;
}

@ObjectType({ description: 'Names or ids used when booting clones in a cloud.' })
export class CloudDefaults {
  @Field(() => String, { nullable: true, description: 'Network to attach clones to.' })
  network!: string | null;

  @Field(() => String, { nullable: true, description: 'External network to take floating IPs from.' })
  floatingNetwork!: string | null;

  @Field(() => String, { nullable: true, description: 'Flavor for clones, unless the VM type says otherwise.' })
  flavor!: string | null;

  @Field(() => String, { nullable: true, description: 'Availability zone to boot clones in.' })
  availabilityZone!: string | null;
}

@InputType({ description: 'Names or ids used when booting clones in a cloud.' })
export class CloudDefaultsInput {
  @Field(() => String, { nullable: true, description: 'Network to attach clones to.' })
  network?: string | null;

  @Field(() => String, { nullable: true, description: 'External network to take floating IPs from.' })
  floatingNetwork?: string | null;

  @Field(() => String, { nullable: true, description: 'Flavor for clones.' })
  flavor?: string | null;

  @Field(() => String, { nullable: true, description: 'Availability zone to boot clones in.' })
  availabilityZone?: string | null;
}

@ObjectType({ description: 'A public endpoint of a cloud, from its Keystone catalog.' })
export class CatalogEndpoint {
  @Field({ description: 'Service type (compute, image, network, ...).' })
  type!: string;

  @Field({ description: 'Public URL.' })
  url!: string;
}

@ObjectType({ description: 'A registered OpenStack cloud. Its credentials are stored encrypted and are never readable.' })
export class Cloud {
  @Field(() => ID, { description: 'Cloud id.' })
  id!: string;

  @Field(() => ID, { description: 'Tenant that registered (owns) the cloud.' })
  tenantId!: string;

  @Field({ description: 'Name, unique among the owner tenant\'s clouds.' })
  name!: string;

  @Field({ description: 'Keystone v3 URL.' })
  authUrl!: string;

  @Field({ description: 'Region whose endpoints the broker uses.' })
  region!: string;

  @Field(() => String, { nullable: true, description: "The transfer agent beside this cloud (npm run agent); null: the broker plays this cloud's side of a chunked transfer." })
  transferAgentUrl!: string | null;

  @Field(() => CredentialKind, { description: 'Which credential form is stored.' })
  credentialKind!: CredentialKind;

  @Field(() => [Label], { description: 'Labels that policies can require.' })
  labels!: Label[];

  @Field(() => Int, { description: 'Declared link bandwidth to other clouds, in Mbit/s.' })
  bandwidthMbps!: number;

  @Field(() => Float, { description: 'Cost hint per VM-hour, in the federation\'s currency.' })
  costPerHour!: number;

  @Field(() => [String], { description: 'Disk formats the cloud\'s Glance accepts.' })
  diskFormats!: string[];

  @Field(() => CloudDefaults, { description: 'Defaults used when booting clones here.' })
  defaults!: CloudDefaults;

  @Field({ description: 'Offered to every tenant of the federation as a clone target.' })
  shared!: boolean;

  @Field(() => [String], { description: "Flavors a guest tenant's VM type may ask for here (flavorHint); any other guest clone gets defaults.flavor." })
  guestFlavors!: string[];

  @Field(() => [String], { description: "Networks a guest tenant's VM type may ask for here (networkHint); any other guest clone gets defaults.network." })
  guestNetworks!: string[];

  @Field(() => [CatalogEndpoint], {
    description:
      'Public endpoints of the region, pinned when the cloud was verified (registerCloud, updateCloud with credentials, verifyCloud). The broker uses these and refuses tokens whose catalog differs for compute, image or network.',
  })
  catalog!: CatalogEndpoint[];

  @Field(() => CloudHealth, { description: 'Health from the last probe.' })
  health!: CloudHealth;

  @Field(() => String, { nullable: true, description: 'Why the last probe failed, if it did.' })
  healthMessage!: string | null;

  @Field(() => Int, { nullable: true, description: 'Keystone round trip of the last probe, in ms.' })
  healthLatencyMs!: number | null;

  @Field(() => Date, { nullable: true, description: 'When the cloud was last probed.' })
  healthCheckedAt!: Date | null;

  @Field({ description: 'When the cloud was registered.' })
  createdAt!: Date;

  @Field({ description: 'When the cloud was last changed.' })
  updatedAt!: Date;
}

@InputType({
  description:
    'Credentials for Keystone: EITHER applicationCredentialId + applicationCredentialSecret, OR username + password + projectName + userDomainName + projectDomainName.',
})
export class CloudCredentialsInput {
  @Field(() => String, { nullable: true, description: 'Application credential id.' })
  applicationCredentialId?: string | null;

  @Field(() => String, { nullable: true, description: 'Application credential secret.' })
  applicationCredentialSecret?: string | null;

  @Field(() => String, { nullable: true, description: 'User name (password form).' })
  username?: string | null;

  @Field(() => String, { nullable: true, description: 'Password (password form).' })
  password?: string | null;

  @Field(() => String, { nullable: true, description: 'Project to scope the token to (password form).' })
  projectName?: string | null;

  @Field(() => String, { nullable: true, description: 'Domain of the user, e.g. Default (password form).' })
  userDomainName?: string | null;

  @Field(() => String, { nullable: true, description: 'Domain of the project, e.g. Default (password form).' })
  projectDomainName?: string | null;
}

@InputType({ description: 'A cloud to register. The broker authenticates with Keystone before it stores anything.' })
export class RegisterCloudInput {
  @Field({ description: 'Name, unique among your clouds.' })
  name!: string;

  @Field({
    description:
      "Keystone v3 URL, e.g. https://keystone.example.net:5000/v3. It and the catalog's endpoints must pass the broker's endpoint policy: https (unless the operator allows http), no loopback, link-local, unspecified, multicast or broadcast addresses (unless the operator allows them).",
  })
  authUrl!: string;

  @Field({ description: 'Region to use, e.g. RegionOne.' })
  region!: string;

  @Field(() => String, {
    nullable: true,
    description: "URL of the transfer agent beside this cloud (npm run agent), e.g. https://agent.example.net:4100. Checked with the same endpoint policy as authUrl. Omit to let the broker play this cloud's side of transfers.",
  })
  transferAgentUrl?: string | null;

  @Field(() => CloudCredentialsInput, { description: 'Exactly one complete credential form.' })
  credentials!: CloudCredentialsInput;

  @Field(() => [LabelInput], { nullable: true, description: 'Labels, e.g. jurisdiction=DE.' })
  labels?: LabelInput[];

  @Field(() => Int, { description: 'Link bandwidth to other clouds, in Mbit/s.' })
  bandwidthMbps!: number;

  @Field(() => Float, { description: 'Cost hint per VM-hour.' })
  costPerHour!: number;

  @Field(() => [String], { nullable: true, description: 'Disk formats accepted (default qcow2, raw).' })
  diskFormats?: string[];

  @Field(() => CloudDefaultsInput, { nullable: true, description: 'Defaults for booting clones here; each name is checked against the cloud (BAD_USER_INPUT on input.defaults.<field> otherwise).' })
  defaults?: CloudDefaultsInput;

  @Field({ nullable: true, description: 'Offer the cloud to every tenant as a clone target (default false).' })
  shared?: boolean;

  @Field(() => [String], { nullable: true, description: "Flavors (names or ids) guests' VM types may ask for; checked against the cloud (default none: guests get defaults.flavor)." })
  guestFlavors?: string[];

  @Field(() => [String], { nullable: true, description: "Networks (names or ids) guests' VM types may ask for; checked against the cloud (default none: guests get defaults.network)." })
  guestNetworks?: string[];
}

@InputType({ description: 'Changes to a cloud; omitted fields stay as they are. New connection settings are verified with Keystone first.' })
export class UpdateCloudInput {
  @Field({ nullable: true, description: 'New name.' })
  name?: string;

  @Field({ nullable: true, description: 'New Keystone v3 URL; requires credentials as well (stored ones are never sent to a new URL).' })
  authUrl?: string;

  @Field({ nullable: true, description: 'New region; requires credentials as well.' })
  region?: string;

  @Field(() => String, { nullable: true, description: 'New transfer agent URL (same endpoint policy as authUrl); an empty string removes it.' })
  transferAgentUrl?: string | null;

  @Field(() => CloudCredentialsInput, { nullable: true, description: 'New credentials (exactly one complete form).' })
  credentials?: CloudCredentialsInput;

  @Field(() => [LabelInput], { nullable: true, description: 'Replacement labels.' })
  labels?: LabelInput[];

  @Field(() => Int, { nullable: true, description: 'New bandwidth, Mbit/s.' })
  bandwidthMbps?: number;

  @Field(() => Float, { nullable: true, description: 'New cost hint.' })
  costPerHour?: number;

  @Field(() => [String], { nullable: true, description: 'Replacement disk formats.' })
  diskFormats?: string[];

  @Field(() => CloudDefaultsInput, { nullable: true, description: 'Replacement defaults.' })
  defaults?: CloudDefaultsInput;

  @Field({ nullable: true, description: "Share with the federation, or stop sharing (guests' VMs in it are then retired, and their clone jobs that use it cancelled and undone)." })
  shared?: boolean;

  @Field(() => [String], { nullable: true, description: "Replacement guest flavor allow-list." })
  guestFlavors?: string[];

  @Field(() => [String], { nullable: true, description: "Replacement guest network allow-list." })
  guestNetworks?: string[];
}
