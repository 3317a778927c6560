/**
 * Parses `POST /v3/auth/tokens` and resolves it to a user and scope, with Keystone's answers:
 * 400 for a malformed body, 401 for anything that does not authenticate.
 */
import { z } from 'zod';
import type { CloudContext } from '../cloud/cloud.context';
import { OpenStackError } from '../http/openstack-error';
import type { Domain, Project, Role, User, ApplicationCredential } from './identity.directory';

const domainRef = z.object({ id: z.string().optional(), name: z.string().optional() }).passthrough();
const authBodySchema = z.object({
  auth: z.object({
    identity: z.object({
      methods: z.array(z.string()).min(1),
      password: z
        .object({
          user: z.object({ id: z.string().optional(), name: z.string().optional(), domain: domainRef.optional(), password: z.string() }).passthrough(),
        })
        .passthrough()
        .optional(),
      application_credential: z
        .object({
          id: z.string().optional(),
          name: z.string().optional(),
          secret: z.string(),
          user: z.object({ id: z.string().optional(), name: z.string().optional(), domain: domainRef.optional() }).passthrough().optional(),
        })
        .passthrough()
        .optional(),
      token: z.object({ id: z.string() }).passthrough().optional(),
    }),
    scope: z
      .union([
        z.literal('unscoped'),
        z
          .object({
            project: z.object({ id: z.string().optional(), name: z.string().optional(), domain: domainRef.optional() }).passthrough().optional(),
            domain: domainRef.optional(),
            system: z.unknown().optional(),
          })
          .passthrough(),
      ])
      .optional(),
  }),
});

export interface Authenticated {
  user: User;
  project: Project | null;
  roles: Role[];
  methods: string[];
  applicationCredential?: ApplicationCredential;
}

const unauthorized = (): OpenStackError => new OpenStackError(401, 'The request you have made requires authentication.');

export function authenticate(cloud: CloudContext, rawBody: unknown): Authenticated {
  const parsed = authBodySchema.safeParse(rawBody);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new OpenStackError(400, `Invalid input for field '${issue.path.join('/')}': ${issue.message}`);
  }
  const { identity, scope } = parsed.data.auth;
  const dir = cloud.identity;
  const method = identity.methods[0]!;

  if (method === 'application_credential') {
    const ac = identity.application_credential;
    if (!ac) throw new OpenStackError(400, "Invalid input for field 'identity/application_credential': missing");
    const owner = ac.user ? dir.findUser({ id: ac.user.id, name: ac.user.name, domain: resolveDomain(cloud, ac.user.domain) }) : undefined;
    const cred = dir.applicationCredentials.find((c) => (ac.id ? c.id === ac.id : c.name === ac.name && c.user === owner));
    if (!cred || cred.secret !== ac.secret) throw unauthorized();
    if (scope !== undefined && scope !== 'unscoped') {
      throw new OpenStackError(401, 'Application credentials cannot request a scope.');
    }
    return { user: cred.user, project: cred.project, roles: cred.roles, methods: ['application_credential'], applicationCredential: cred };
  }

  let user: User | undefined;
  if (method === 'password') {
    const pw = identity.password?.user;
    if (!pw) throw new OpenStackError(400, "Invalid input for field 'identity/password/user': missing");
    if (!pw.id && !(pw.name && pw.domain)) throw new OpenStackError(400, 'Expecting to find domain in user. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.');
    user = dir.findUser({ id: pw.id, name: pw.name, domain: pw.id ? undefined : resolveDomain(cloud, pw.domain) });
    if (!user || user.password !== pw.password) throw unauthorized();
  } else if (method === 'token') {
    const record = identity.token ? cloud.tokens.validate(identity.token.id) : undefined;
    if (!record) throw unauthorized();
    user = record.user;
  } else {
    throw new OpenStackError(401, `Attempted to authenticate with an unsupported method.`);
  }

  const project = resolveScope(cloud, user, scope);
  if (!project) return { user, project: null, roles: [], methods: [method] };
  const roles = user.roles.get(project.id);
  if (!roles || roles.length === 0) throw new OpenStackError(401, `User ${user.id} has no access to project ${project.id}`);
  return { user, project, roles, methods: [method] };
}

function resolveDomain(cloud: CloudContext, ref: { id?: string; name?: string } | undefined): Domain | undefined {
  if (!ref) return undefined;
  const domain = cloud.identity.findDomain(ref);
  if (!domain) throw unauthorized();
  return domain;
}

/** Explicit project scope, else (like Keystone) the user's default project, else unscoped. */
function resolveScope(cloud: CloudContext, user: User, scope: z.infer<typeof authBodySchema>['auth']['scope']): Project | null {
  if (scope === 'unscoped') return null;
  if (scope?.project) {
    const ref = scope.project;
    if (!ref.id && !(ref.name && ref.domain)) throw new OpenStackError(400, 'Expecting to find domain in project.');
    const project = cloud.identity.findProject({ id: ref.id, name: ref.name, domain: ref.id ? undefined : resolveDomain(cloud, ref.domain) });
    if (!project) throw unauthorized();
    return project;
  }
  if (scope?.domain || scope?.system) throw new OpenStackError(401, 'The sandbox supports project scope only.');
  return user.defaultProjectId ? (cloud.identity.findProjectById(user.defaultProjectId) ?? null) : null;
}
