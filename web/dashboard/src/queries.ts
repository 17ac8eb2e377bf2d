// The GraphQL operations the dashboard sends.
const AUTH = "accessToken refreshToken expiresAt user { id username role }";

export const LOGIN = `mutation Login($username: String!, $password: String!) {
  login(username: $username, password: $password) { ${AUTH} } }`;
export const REFRESH = `mutation Refresh($token: String!) { refreshToken(refreshToken: $token) { ${AUTH} } }`;
export const LOGOUT = `mutation Logout($token: String) { logout(refreshToken: $token) }`;

export const PROJECTS = `query Projects {
  projects(first: 100, orderBy: {field: NAME}) { nodes { id name status } } }`;

const JOB = "id kind status progress message error subjectType subjectId createdAt";
const DEPLOYMENT = "id environment version status logs createdAt";

export const PROJECT = `query Project($id: ID!) {
  project(id: $id) {
    id name description status techStack
    aiUsage { inputTokens outputTokens costUsd }
    requirements(first: 100) { nodes { id title status priority prd { id version approved } tasks { totalCount } } }
    tasks(first: 100) { totalCount nodes {
      id name status taskType priority estimatedHours assignedTo { id username } requirement { id }
      artifacts(first: 20) { nodes {
        id filePath version language reviewStatus createdBy { id }
        testResults(first: 5, orderBy: {field: EXECUTED_AT, direction: DESC}) { nodes {
          id testType status total passed failed skipped coveragePercent executedAt } } } } } }
    jobs(first: 30, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { ${JOB} } }
    deployments(first: 20, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { ${DEPLOYMENT} } }
  } }`;

export const AUDIT = `query Audit {
  auditLog(first: 25) { nodes { id action outcome entityType at actor { username } } } }`;

export const PROJECT_EVENTS = `subscription ProjectEvents($id: ID!) {
  projectEvents(projectId: $id) { entityType entityId action newStatus data } }`;
export const JOB_UPDATED = `subscription JobUpdated($id: ID!) { jobUpdated(id: $id) { ${JOB} } }`;
export const DEPLOYMENT_UPDATED = `subscription DeploymentUpdated($id: ID!) {
  deploymentUpdated(id: $id) { ${DEPLOYMENT} } }`;

const JOB_ID = "{ id }";
export const GENERATE_PRD = `mutation GeneratePrd($id: ID!) { generatePrd(requirementId: $id) ${JOB_ID} }`;
export const DECOMPOSE = `mutation Decompose($id: ID!) { decomposeRequirement(requirementId: $id) ${JOB_ID} }`;
export const GENERATE_CODE = `mutation GenerateCode($id: ID!, $language: String!) {
  generateCode(taskId: $id, language: $language) ${JOB_ID} }`;
export const REVIEW_CODE = `mutation ReviewCode($id: ID!) { reviewCode(artifactId: $id) ${JOB_ID} }`;
