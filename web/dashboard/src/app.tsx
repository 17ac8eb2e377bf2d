// The shell: sign-in, the header with the viewer, the project list and the open project (kept in the URL's hash).
import { useEffect, useState } from "preact/hooks";
import { ProjectView } from "./project";
import { PROJECTS } from "./queries";
import { ApiError, Session } from "./session";
import type { ProjectSummary } from "./types";
import { Badge, label } from "./ui";

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [notice, setNotice] = useState("");
  const ended = (why: string) => {
    setSession(null);
    setNotice(why);
  };
  if (!session) return <SignIn notice={notice} onSignedIn={(s) => (setNotice(""), setSession(s))} onEnded={ended} />;
  return <Shell session={session} />;
}

function SignIn(props: { notice: string; onSignedIn: (s: Session) => void; onEnded: (why: string) => void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setBusy(true);
    setError("");
    try {
      const session = await Session.login(String(form.get("username")), String(form.get("password")), props.onEnded);
      props.onSignedIn(session);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : "Sign-in failed.");
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-label="Sign in">
        <div class="brand big">rdflow</div>
        <p class="muted">AI-assisted R&amp;D pipeline</p>
        {props.notice && <p class="notice">{props.notice}</p>}
        <label>
          Username or email
          <input name="username" autocomplete="username" required autofocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </main>
  );
}

const hashProject = () => decodeURIComponent(location.hash.match(/^#\/projects\/(.+)$/)?.[1] ?? "");

function Shell({ session }: { session: Session }) {
  const [projects, setProjects] = useState<ProjectSummary[] | null>(null);
  const [error, setError] = useState("");
  const [projectId, setProjectId] = useState(hashProject);

  const loadProjects = () =>
    session
      .gql<{ projects: { nodes: ProjectSummary[] } }>(PROJECTS)
      .then((data) => (setProjects(data.projects.nodes), setError("")))
      .catch((e: Error) => setError(e.message));

  useEffect(() => {
    void loadProjects();
    const onHash = () => setProjectId(hashProject());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);

  const viewer = session.viewer;
  return (
    <div class="shell">
      <header class="topbar">
        <div class="brand">rdflow</div>
        <div class="who">
          <span class="user">{viewer.username}</span>
          <span class="role">{label(viewer.role)}</span>
          <button class="ghost" type="button" onClick={() => void session.logout().catch(() => {})}>
            Sign out
          </button>
        </div>
      </header>
      <nav class="sidebar" aria-label="Projects">
        <h3>Projects</h3>
        {error && <p class="error">{error}</p>}
        {projects?.length === 0 && <p class="muted small">No project is shared with you yet.</p>}
        <ul>
          {projects?.map((p) => (
            <li key={p.id}>
              <a href={`#/projects/${encodeURIComponent(p.id)}`} class={p.id === projectId ? "current" : ""}>
                <span>{p.name}</span>
                <Badge value={p.status} />
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main class="content">
        {projectId ? (
          <ProjectView
            key={projectId}
            id={projectId}
            session={session}
            onSignedOut={() => session.end()}
          />
        ) : (
          <div class="placeholder">
            <h1>Welcome, {viewer.username}</h1>
            <p class="muted">Pick a project to follow its requirements, tasks, jobs, tests and deployments live.</p>
          </div>
        )}
      </main>
    </div>
  );
}
