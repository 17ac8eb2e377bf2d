// What the viewer's role may do, mirroring the permission matrix (domain/permissions.py) so no refused button shows.
import type { Artifact, Task, Viewer } from "./types";

const ADMINS = new Set(["SUPER_ADMIN", "PROJECT_ADMIN"]);

export const can = {
  /** generatePrd and decomposeRequirement need requirement:write (and task:manage): admins and developers. */
  planRequirement: (v: Viewer) => ADMINS.has(v.role) || v.role === "DEVELOPER",
  /** generateCode: admins on any task, developers on tasks assigned to them. */
  generateCode: (v: Viewer, task: Task) =>
    ADMINS.has(v.role) || (v.role === "DEVELOPER" && task.assignedTo?.id === v.id),
  /** reviewCode: admins on any artifact, developers on their own. */
  reviewCode: (v: Viewer, artifact: Artifact) =>
    ADMINS.has(v.role) || (v.role === "DEVELOPER" && (artifact.createdBy === null || artifact.createdBy.id === v.id)),
  /** The audit trail (auditLog) is for super admins. */
  readAudit: (v: Viewer) => v.role === "SUPER_ADMIN",
};
