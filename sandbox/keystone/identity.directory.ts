/**
 * Keystone's identity backend for one cloud: domains, projects, users, role assignments and
 * application credentials, built from the cloud's configuration with Keystone-like ids.
 */
import { createHash } from 'node:crypto';
import type { CloudConfig, ResolvedApplicationCredential } from '../config/cloud-config';

export interface Domain {
  id: string;
  name: string;
}
export interface Project {
  id: string;
  name: string;
  domain: Domain;
}
export interface Role {
  id: string;
  name: string;
}
export interface User {
  id: string;
  name: string;
  password: string;
  domain: Domain;
  defaultProjectId?: string;
  /** project id -> roles */
  roles: Map<string, Role[]>;
}
export interface ApplicationCredential {
  id: string;
  name: string;
  secret: string;
  user: User;
  project: Project;
  roles: Role[];
}

/** Keystone ids are 32 hex chars; derive them from the cloud and object name so restarts keep them. */
function keystoneId(cloud: string, kind: string, name: string): string {
  return createHash('md5').update(`${cloud}/${kind}/${name}`).digest('hex');
}

export class IdentityDirectory {
  readonly domains: Domain[] = [];
  readonly projects: Project[] = [];
  readonly users: User[] = [];
  readonly applicationCredentials: ApplicationCredential[] = [];
  private readonly roles = new Map<string, Role>();

  constructor(private readonly config: CloudConfig) {
    for (const p of config.projects) this.projects.push({ id: keystoneId(config.name, 'project', p.name), name: p.name, domain: this.domain(p.domain) });
    for (const u of config.users) {
      const roles = new Map<string, Role[]>();
      for (const assignment of u.projects) {
        const project = this.findProject({ name: assignment.name });
        if (project) roles.set(project.id, assignment.roles.map((r) => this.role(r)));
      }
      const defaultProject = u.defaultProject ? this.findProject({ name: u.defaultProject }) : undefined;
      this.users.push({
        id: keystoneId(config.name, 'user', `${u.domain}/${u.name}`),
        name: u.name,
        password: u.password,
        domain: this.domain(u.domain),
        defaultProjectId: defaultProject?.id,
        roles,
      });
    }
    for (const c of config.applicationCredentials) this.addApplicationCredential(c);
  }

  private addApplicationCredential(c: ResolvedApplicationCredential): void {
    const user = this.users.find((u) => u.name === c.user);
    const project = this.findProject({ name: c.project });
    if (!user || !project) throw new Error(`application credential ${c.name}: unknown user ${c.user} or project ${c.project}`);
    const roles = user.roles.get(project.id);
    if (!roles) throw new Error(`application credential ${c.name}: user ${c.user} has no role on project ${c.project}`);
    this.applicationCredentials.push({ id: c.id, name: c.name, secret: c.secret, user, project, roles });
  }

  /** The "Default" domain keeps Keystone's well-known id "default". */
  private domain(name: string): Domain {
    let domain = this.domains.find((d) => d.name === name);
    if (!domain) {
      domain = { id: name === 'Default' ? 'default' : keystoneId(this.config.name, 'domain', name), name };
      this.domains.push(domain);
    }
    return domain;
  }

  private role(name: string): Role {
    let role = this.roles.get(name);
    if (!role) {
      role = { id: keystoneId(this.config.name, 'role', name), name };
      this.roles.set(name, role);
    }
    return role;
  }

  findDomain(ref: { id?: string; name?: string }): Domain | undefined {
    return this.domains.find((d) => (ref.id !== undefined ? d.id === ref.id : d.name === ref.name));
  }

  findProject(ref: { id?: string; name?: string; domain?: Domain }): Project | undefined {
    return this.projects.find((p) =>
      ref.id !== undefined ? p.id === ref.id : p.name === ref.name && (!ref.domain || p.domain.id === ref.domain.id),
    );
  }

  findUser(ref: { id?: string; name?: string; domain?: Domain }): User | undefined {
    return this.users.find((u) =>
      ref.id !== undefined ? u.id === ref.id : u.name === ref.name && (!ref.domain || u.domain.id === ref.domain.id),
    );
  }

  findProjectById(id: string): Project | undefined {
    return this.projects.find((p) => p.id === id);
  }

  findUserById(id: string): User | undefined {
    return this.users.find((u) => u.id === id);
  }
}
