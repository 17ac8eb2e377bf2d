// One open project: its data, kept current by projectEvents, jobUpdated and deploymentUpdated, and its actions.
import type { Client } from "graphql-ws";
import { useEffect, useRef, useState } from "preact/hooks";
import { connect, follow, type LiveState } from "./live";
import * as Q from "./queries";
import { can } from "./roles";
import { Audit, Board, Deployments, Jobs, Pipeline, Tests, type Actions } from "./sections";
import { ApiError, type Session } from "./session";
import type { AuditEntry, Deployment, Job, Project } from "./types";
import { Badge } from "./ui";

const ACTIVE_JOB = new Set(["QUEUED", "RUNNING"]);
const ACTIVE_DEPLOYMENT = new Set(["PENDING", "AWAITING_APPROVAL", "IN_PROGRESS"]);
const REFETCH_DEBOUNCE_MS = 150;

interface ProjectEvent {
  projectEvents: { entityType: string; entityId: string; action: string; data: Record<string, unknown> };
}

const replace = <T extends { id: string }>(list: T[], item: T) => list.map((x) => (x.id === item.id ? item : x));

export function ProjectView(props: { id: string; session: Session; onSignedOut: () => void }) {
  const { id, session } = props;
  const viewer = session.viewer;
  const [project, setProject] = useState<Project | null>(null);
  const [audit, setAudit] = useState<AuditEntry[] | null>(null);
  const [live, setLive] = useState<LiveState>("connecting");
  const [gone, setGone] = useState("");
  const [toast, setToast] = useState<{ text: string; bad: boolean } | null>(null);
  const [busy, setBusy] = useState<Set<string>>(new Set());
  const client = useRef<Client | null>(null);
  const following = useRef(new Map<string, () => void>());
  const refetch = useRef<() => void>(() => {});

  useEffect(() => {
    let closed = false;
    let seq = 0;
    let timer = 0;
    const load = async () => {
      const mine = ++seq;
      try {
        const [data, log] = await Promise.all([
          session.gql<{ project: Project }>(Q.PROJECT, { id }),
          can.readAudit(viewer) ? session.gql<{ auditLog: { nodes: AuditEntry[] } }>(Q.AUDIT) : null,
        ]);
        if (closed || mine !== seq) return;
        setProject(data.project);
        if (log) setAudit(log.auditLog.nodes);
      } catch (e) {
        if (closed) return;
        if (e instanceof ApiError && (e.code === "NOT_FOUND" || e.code === "FORBIDDEN")) setGone(e.message);
        else if (e instanceof ApiError && e.code !== "UNAUTHENTICATED") setToast({ text: e.message, bad: true });
      }
    };
    const soon = () => {
      clearTimeout(timer);
      timer = window.setTimeout(() => void load(), REFETCH_DEBOUNCE_MS);
    };
    refetch.current = soon;
    void load();

    const c = connect(session, {
      onResync: () => void load(),
      onState: (state) => !closed && setLive(state),
      onSignedOut: () => !closed && props.onSignedOut(),
      onForbidden: () => !closed && setGone("This project is no longer accessible to you."),
    });
    client.current = c;
    follow<ProjectEvent>(c, Q.PROJECT_EVENTS, { id }, ({ projectEvents: event }) => {
      if (event.entityType === "Job" && typeof event.data.progress === "number") {
        const { progress, status, message } = event.data as { progress: number; status: string; message: string };
        setProject((p) => p && { ...p, jobs: { nodes: p.jobs.nodes.map((j) => (j.id === event.entityId ?
          { ...j, progress, status, message } : j)) } });
      }
      if (event.entityType === "Project" && event.action === "deleted") setGone("This project was deleted.");
      else soon();
    });
    return () => {
      closed = true;
      clearTimeout(timer);
      following.current.clear();
      void c.dispose();
    };
  }, [id]);

  // Follow each job and deployment that is still moving (jobUpdated ends by itself when the job does).
  useEffect(() => {
    const c = client.current;
    if (!c || !project) return;
    const moving = new Set<string>();
    for (const job of project.jobs.nodes.filter((j) => ACTIVE_JOB.has(j.status))) {
      moving.add(job.id);
      if (!following.current.has(job.id))
        following.current.set(job.id, follow<{ jobUpdated: Job }>(c, Q.JOB_UPDATED, { id: job.id }, ({ jobUpdated }) =>
          setProject((p) => p && { ...p, jobs: { nodes: replace(p.jobs.nodes, jobUpdated) } })));
    }
    for (const d of project.deployments.nodes.filter((d) => ACTIVE_DEPLOYMENT.has(d.status))) {
      moving.add(d.id);
      if (!following.current.has(d.id))
        following.current.set(d.id, follow<{ deploymentUpdated: Deployment }>(c, Q.DEPLOYMENT_UPDATED, { id: d.id },
          ({ deploymentUpdated }) =>
            setProject((p) => p && { ...p, deployments: { nodes: replace(p.deployments.nodes, deploymentUpdated) } })));
    }
    for (const [key, stop] of following.current)
      if (!moving.has(key)) {
        stop();
        following.current.delete(key);
      }
  }, [project]);

  const run = async (key: string, what: string, query: string, variables: Record<string, unknown>) => {
    setBusy((b) => new Set(b).add(key));
    try {
      await session.gql(query, variables);
      setToast({ text: `${what} started`, bad: false });
      refetch.current();
    } catch (e) {
      setToast({ text: e instanceof Error ? e.message : String(e), bad: true });
    } finally {
      setBusy((b) => {
        const next = new Set(b);
        next.delete(key);
        return next;
      });
    }
  };
  const language = (project?.techStack[0] ?? "python").toLowerCase();
  const actions: Actions = {
    busy,
    generatePrd: (r) => void run(r.id, "PRD generation", Q.GENERATE_PRD, { id: r.id }),
    decompose: (r) => void run(r.id, "Decomposition", Q.DECOMPOSE, { id: r.id }),
    generateCode: (t) => void run(t.id, "Code generation", Q.GENERATE_CODE, { id: t.id, language }),
    reviewCode: (a) => void run(a.id, "Code review", Q.REVIEW_CODE, { id: a.id }),
  };

  if (gone) return <div class="placeholder gone" role="alert"><h1>Not available</h1><p>{gone}</p></div>;
  if (!project) return <div class="placeholder"><p class="muted">Loading…</p></div>;
  return (
    <div class="project">
      <div class="project-head">
        <div>
          <h1>{project.name} <Badge value={project.status} /></h1>
          {project.description && <p class="muted">{project.description}</p>}
          <div class="chips">{project.techStack.map((t) => <span class="chip" key={t}>{t}</span>)}</div>
        </div>
        <div class="head-side">
          <span class={`live live-${live}`} data-live={live}>
            {live === "live" ? "Live" : live === "connecting" ? "Connecting…" : "Reconnecting…"}
          </span>
          <span class="usage" title="AI usage of this project">
            {(project.aiUsage.inputTokens + project.aiUsage.outputTokens).toLocaleString()} tokens · $
            {project.aiUsage.costUsd.toFixed(2)}
          </span>
        </div>
      </div>
      {toast && (
        <div class={`toast ${toast.bad ? "bad" : ""}`} role="status" onClick={() => setToast(null)}>{toast.text}</div>
      )}
      <Pipeline project={project} viewer={viewer} actions={actions} />
      <div class="grid">
        <Jobs project={project} />
        <Deployments project={project} />
      </div>
      <Board project={project} viewer={viewer} actions={actions} />
      <Tests project={project} viewer={viewer} actions={actions} />
      {can.readAudit(viewer) && audit && <Audit entries={audit} />}
    </div>
  );
}
