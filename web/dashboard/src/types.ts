// The shapes the dashboard reads from the API (a subset of schema.graphql).
export type Role = "SUPER_ADMIN" | "PROJECT_ADMIN" | "DEVELOPER" | "TESTER" | "GUEST";

export interface Viewer {
  id: string;
  username: string;
  role: Role;
}

export interface ProjectSummary {
  id: string;
  name: string;
  status: string;
}

export interface TestResult {
  id: string;
  testType: string;
  status: string;
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  coveragePercent: number | null;
  executedAt: string;
}

export interface Artifact {
  id: string;
  filePath: string;
  version: number;
  language: string;
  reviewStatus: string;
  createdBy: { id: string } | null;
  testResults: { nodes: TestResult[] };
}

export interface Task {
  id: string;
  name: string;
  status: string;
  taskType: string;
  priority: string;
  estimatedHours: number | null;
  assignedTo: { id: string; username: string } | null;
  requirement: { id: string };
  artifacts: { nodes: Artifact[] };
}

export interface Requirement {
  id: string;
  title: string;
  status: string;
  priority: string;
  prd: { id: string; version: number; approved: boolean } | null;
  tasks: { totalCount: number };
}

export interface Job {
  id: string;
  kind: string;
  status: string;
  progress: number;
  message: string | null;
  error: string | null;
  subjectType: string;
  subjectId: string;
  createdAt: string;
}

export interface Deployment {
  id: string;
  environment: string;
  version: string;
  status: string;
  logs: string;
  createdAt: string;
}

export interface Project {
  id: string;
  name: string;
  description: string | null;
  status: string;
  techStack: string[];
  aiUsage: { inputTokens: number; outputTokens: number; costUsd: number };
  requirements: { nodes: Requirement[] };
  tasks: { totalCount: number; nodes: Task[] };
  jobs: { nodes: Job[] };
  deployments: { nodes: Deployment[] };
}

export interface AuditEntry {
  id: string;
  action: string;
  outcome: string;
  entityType: string;
  at: string;
  actor: { username: string } | null;
}
