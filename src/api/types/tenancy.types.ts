import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { Role } from './enums';

@ObjectType({ description: 'The caller, as identified by its bearer token.' })
export class Principal {
  @Field(() => ID, { description: 'Id of the API token used.' })
  tokenId!: string;

  @Field({ description: 'Name given to the token when it was created.' })
  tokenName!: string;

  @Field(() => ID, { description: 'Tenant the token belongs to.' })
  tenantId!: string;

  @Field({ description: 'Name of that tenant.' })
  tenantName!: string;

  @Field(() => Role, { description: 'Role of the token.' })
  role!: Role;
}

@ObjectType({ description: 'An operator organisation: owns VM types, VMs, policies, jobs and API tokens.' })
export class Tenant {
  @Field(() => ID, { description: 'Tenant id.' })
  id!: string;

  @Field({ description: 'Unique tenant name.' })
  name!: string;

  @Field({ description: 'When the tenant was created.' })
  createdAt!: Date;
}

@ObjectType({ description: 'An API token (its secret is shown only once, at creation).' })
export class ApiToken {
  @Field(() => ID, { description: 'Token id.' })
  id!: string;

  @Field(() => ID, { description: 'Tenant the token acts for.' })
  tenantId!: string;

  @Field({ description: 'Name, for people to tell tokens apart.' })
  name!: string;

  @Field(() => Role, { description: 'Role granted to the token.' })
  role!: Role;

  @Field({ description: 'When the token was created.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'Last use, to the minute.' })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the token was revoked; revoked tokens authenticate nothing.' })
  revokedAt!: Date | null;
}

@ObjectType({ description: 'A newly created token with its secret. Store the secret now: it cannot be read again.' })
export class CreatedApiToken {
  @Field(() => ApiToken, { description: 'The token.' })
  token!: ApiToken;

  @Field({ description: 'The bearer secret: send it as `Authorization: Bearer <secret>`.' })
  secret!: string;
}

@InputType({ description: 'A new tenant.' })
export class CreateTenantInput {
  @Field({ description: 'Unique name: letters, digits, space, . _ : - (at most 64).' })
  name!: string;
}

@InputType({ description: 'A new API token.' })
export class CreateApiTokenInput {
  @Field(() => ID, { description: 'Tenant the token will act for (operators: their own tenant only).' })
  tenantId!: string;

  @Field(() => Role, { description: 'Role of the token; only admins may create ADMIN tokens.' })
  role!: Role;

  @Field({ description: 'Name, for people to tell tokens apart.' })
  name!: string;
}
