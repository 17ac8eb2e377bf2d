// The project's sections: the AI pipeline, the task board, jobs, deployments, tests with coverage and the audit trail.
import { can } from "./roles";
import type { Artifact, AuditEntry, Project, Requirement, Task, Viewer } from "./types";
import { Badge, Card, Empty, Progress, ago, label, plural } from "./ui";

export interface Actions {
  busy: Set<string>;
  generatePrd: (r: Requirement) => void;
  decompose: (r: Requirement) => void;
  generateCode: (t: Task) => void;
  reviewCode: (a: Artifact) => void;
}

interface SectionProps {
  project: Project;
  viewer: Viewer;
  actions: Actions;
}

const BOARD = ["PENDING", "IN_PROGRESS", "IN_REVIEW", "DONE", "BLOCKED", "CANCELLED"];
const CODABLE = new Set(["PENDING", "IN_PROGRESS", "IN_REVIEW"]);
const OPEN_REQUIREMENT = (r: Requirement) => r.status !== "DONE" && r.status !== "REJECTED";

function Action(props: { onClick: () => void; busy: boolean; children: string; name: string }) {
  return (
    <button type="button" class="action" data-action={props.name} disabled={props.busy} onClick={props.onClick}>
      {props.busy ? "Starting…" : props.children}
    </button>
  );
}

function Step({ name, state, done }: { name: string; state: string; done: boolean }) {
  return (
    <div class={`step ${done ? "done" : ""}`}>
      <span class="step-name">{name}</span>
      <span class="step-state">{state}</span>
    </div>
  );
}

export function Pipeline({ project, viewer, actions }: SectionProps) {
  const tasksOf = (r: Requirement) => project.tasks.nodes.filter((t) => t.requirement.id === r.id);
  return (
    <Card id="pipeline" title="AI pipeline" aside={<span class="count">{plural(project.requirements.nodes.length, "requirement")}</span>}>
      {project.requirements.nodes.length === 0 && <Empty>No requirement yet.</Empty>}
      <ul class="pipeline">
        {project.requirements.nodes.map((r) => {
          const artifacts = tasksOf(r).flatMap((t) => t.artifacts.nodes);
          const reviewed = artifacts.filter((a) => a.reviewStatus !== "PENDING").length;
          const tested = artifacts.filter((a) => a.testResults.nodes.length > 0).length;
          return (
            <li key={r.id} class="requirement" data-requirement={r.title}>
              <div class="req-title">
                <strong>{r.title}</strong>
                <span class={`prio prio-${r.priority.toLowerCase()}`}>{label(r.priority)}</span>
                <Badge value={r.status} />
              </div>
              <div class="steps">
                <Step name="PRD" done={!!r.prd?.approved}
                  state={r.prd ? `v${r.prd.version} ${r.prd.approved ? "approved" : "draft"}` : "—"} />
                <Step name="Tasks" done={r.tasks.totalCount > 0} state={String(r.tasks.totalCount)} />
                <Step name="Code" done={artifacts.length > 0} state={plural(artifacts.length, "file")} />
                <Step name="Review" done={artifacts.length > 0 && reviewed === artifacts.length}
                  state={`${reviewed}/${artifacts.length}`} />
                <Step name="Tests" done={artifacts.length > 0 && tested === artifacts.length}
                  state={`${tested}/${artifacts.length}`} />
              </div>
              {can.planRequirement(viewer) && OPEN_REQUIREMENT(r) && (
                <div class="buttons">
                  <Action name="generatePrd" busy={actions.busy.has(r.id)} onClick={() => actions.generatePrd(r)}>
                    Generate PRD
                  </Action>
                  <Action name="decomposeRequirement" busy={actions.busy.has(r.id)} onClick={() => actions.decompose(r)}>
                    Decompose
                  </Action>
                </div>
              )}
            </li>
          );
        })}
      </ul>
    </Card>
  );
}

export function Board({ project, viewer, actions }: SectionProps) {
  return (
    <Card id="board" title="Tasks" aside={<span class="count">{plural(project.tasks.totalCount, "task")}</span>}>
      <div class="board">
        {BOARD.map((status) => {
          const tasks = project.tasks.nodes.filter((t) => t.status === status);
          return (
            <div class="column" data-status={status} key={status}>
              <h3>{label(status)} <span class="count">{tasks.length}</span></h3>
              {tasks.map((t) => (
                <article class="task" key={t.id} data-task={t.name}>
                  <div class="task-name">{t.name}</div>
                  <div class="task-meta">
                    <span class="chip">{label(t.taskType)}</span>
                    <span class={`prio prio-${t.priority.toLowerCase()}`}>{label(t.priority)}</span>
                    {t.estimatedHours !== null && <span class="muted small">{t.estimatedHours} h</span>}
                  </div>
                  <div class="task-foot">
                    <span class="muted small">{t.assignedTo ? `@${t.assignedTo.username}` : "unassigned"}</span>
                    {can.generateCode(viewer, t) && CODABLE.has(t.status) && (
                      <Action name="generateCode" busy={actions.busy.has(t.id)} onClick={() => actions.generateCode(t)}>
                        Generate code
                      </Action>
                    )}
                  </div>
                </article>
              ))}
            </div>
          );
        })}
      </div>
    </Card>
  );
}

const JOB_KINDS: Record<string, string> = {
  "ai.prd": "PRD", "ai.decompose": "Decompose", "ai.code": "Generate code", "ai.review": "Review",
};

export function Jobs({ project }: { project: Project }) {
  const jobs = project.jobs.nodes;
  return (
    <Card id="jobs" title="Jobs">
      {jobs.length === 0 && <Empty>No job has run in this project.</Empty>}
      <ul class="rows">
        {jobs.map((j) => (
          <li key={j.id} class="job" data-job={j.id} data-status={j.status}>
            <div class="row-head">
              <strong>{JOB_KINDS[j.kind] ?? j.kind}</strong>
              <Badge value={j.status} />
              <span class="muted small right">{ago(j.createdAt)}</span>
            </div>
            <Progress value={j.progress} title={`${JOB_KINDS[j.kind] ?? j.kind} progress`}
              tone={j.status === "FAILED" ? "bad" : j.status === "SUCCEEDED" ? "ok" : "info"} />
            <div class="muted small">{j.error ?? j.message ?? `${j.progress}%`}</div>
          </li>
        ))}
      </ul>
    </Card>
  );
}

export function Deployments({ project }: { project: Project }) {
  const deployments = project.deployments.nodes;
  return (
    <Card id="deployments" title="Deployments">
      {deployments.length === 0 && <Empty>Nothing deployed yet.</Empty>}
      <ul class="rows">
        {deployments.map((d) => (
          <li key={d.id} class="deployment" data-status={d.status}>
            <div class="row-head">
              <span class="env">{d.environment}</span>
              <strong>{d.version}</strong>
              <Badge value={d.status} />
              <span class="muted small right">{ago(d.createdAt)}</span>
            </div>
            {d.logs && (
              <details>
                <summary>Logs</summary>
                <pre>{d.logs.split("\n").slice(-20).join("\n")}</pre>
              </details>
            )}
          </li>
        ))}
      </ul>
    </Card>
  );
}

export function Tests({ project, viewer, actions }: SectionProps) {
  const artifacts = project.tasks.nodes.flatMap((t) => t.artifacts.nodes);
  return (
    <Card id="tests" title="Code, reviews and tests" aside={<span class="count">{plural(artifacts.length, "file")}</span>}>
      {artifacts.length === 0 && <Empty>No code generated yet.</Empty>}
      {artifacts.length > 0 && (
        <table>
          <thead>
            <tr><th>File</th><th>Review</th><th>Latest test run</th><th>Coverage</th><th /></tr>
          </thead>
          <tbody>
            {artifacts.map((a) => {
              const run = a.testResults.nodes[0];
              return (
                <tr key={a.id}>
                  <td><code>{a.filePath}</code> <span class="muted small">v{a.version}</span></td>
                  <td><Badge value={a.reviewStatus} /></td>
                  <td>
                    {run ? (
                      <span><Badge value={run.status} /> {run.passed}/{run.total} passed
                        {run.failed > 0 && `, ${run.failed} failed`} <span class="muted small">{label(run.testType)}</span></span>
                    ) : <span class="muted">not run</span>}
                  </td>
                  <td class="coverage">
                    {run?.coveragePercent != null ? (
                      <><Progress value={run.coveragePercent} title="coverage"
                        tone={run.coveragePercent >= 80 ? "ok" : run.coveragePercent >= 50 ? "warn" : "bad"} />
                      <span class="small">{run.coveragePercent.toFixed(0)}%</span></>
                    ) : <span class="muted">—</span>}
                  </td>
                  <td>
                    {can.reviewCode(viewer, a) && (
                      <Action name="reviewCode" busy={actions.busy.has(a.id)} onClick={() => actions.reviewCode(a)}>
                        Review
                      </Action>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Card>
  );
}

export function Audit({ entries }: { entries: AuditEntry[] }) {
  return (
    <Card id="audit" title="Audit trail">
      {entries.length === 0 && <Empty>Nothing audited yet.</Empty>}
      <table>
        <thead><tr><th>When</th><th>Who</th><th>Action</th><th>Entity</th><th>Outcome</th></tr></thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id}>
              <td class="muted small">{ago(e.at)}</td>
              <td>{e.actor?.username ?? "—"}</td>
              <td><code>{e.action}</code></td>
              <td>{e.entityType}</td>
              <td><Badge value={e.outcome} /></td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}
