"""Default system prompts and prompt templates of the AI steps, and how context values read in a prompt."""

from __future__ import annotations

from typing import Any

SYSTEMS = {
    "prd": (
        "You are a senior product manager. Turn a software requirement into a product requirements document. "
        "Be concrete: name the actors, entities and capabilities the requirement states, quantify "
        "non-functional needs where the text gives numbers, and list what is ambiguous as open questions "
        "instead of inventing answers. Answer only through the submit tool."
    ),
    "decompose": (
        "You are a tech lead planning work for a team. Break a requirement into tasks a single engineer can "
        "finish in one to three days, typed by role, with honest hour estimates and the dependencies between "
        "them (no cycles; a task depends only on keys of tasks in your answer). Answer only through the "
        "submit tool."
    ),
    "code": (
        "You are a careful senior engineer. Write small, readable, working code for one task, with input "
        "validation and clear errors. When tests are requested, write tests that pass against your code "
        "with no network access and no services. Paths are relative to the project root. Answer only through "
        "the submit tool."
    ),
    "review": (
        "You are a strict code reviewer. Report concrete problems with file and line: correctness, security "
        "(eval, secrets in code, swallowed exceptions), missing tests, dead code, maintainability. Each "
        "finding needs a rule id, a message and a suggestion. Recommend REJECTED for any critical problem, "
        "CHANGES_REQUESTED for major ones, otherwise APPROVED. Answer only through the submit tool."
    ),
}

TEMPLATES = {
    "prd": (
        "Project: {project_name}\nTech stack: {tech_stack}\n\n"
        "Requirement ({priority} priority): {title}\n\n{content}\n\n"
        "Write the PRD with exactly these sections, in this order: overview, user_stories, features, "
        "non_functional, acceptance_criteria, open_questions. Number features F1, F2, ... and give core "
        "features the requirement's priority. Write acceptance criteria as Given/When/Then per feature."
    ),
    "decompose": (
        "Requirement: {title}\n\n{content}\n\n"
        "PRD (may be empty):\n{prd_sections}\n\n"
        "Strategy: {strategy} (ROLE_BASED: group the work by role; FEATURE_BASED: one backend, frontend and "
        "test chain per feature).\nRoles to plan for: {target_roles}\nDefault priority: {priority}\n\n"
        "Give every task a short unique key, and total_estimated_hours equal to the sum of the estimates."
    ),
    "code": (
        "Task ({task_type}): {task_name}\n{task_description}\n\n"
        "Requirement:\n{requirement}\n\n"
        "Language: {language}\nFramework: {framework}\nInclude tests: {include_tests}\n"
        "Include documentation: {include_docs}\nCoding standards:\n{coding_standards}"
    ),
    "review": ("Review these files; the change under review is {focus}.\n\n{files}"),
}

CONTEXT = {
    "prd": {
        "title": "requirement title",
        "content": "requirement text",
        "priority": "requirement priority (LOW, MEDIUM, HIGH, CRITICAL)",
        "project_name": "project name",
        "tech_stack": "project tech stack, comma separated",
    },
    "decompose": {
        "title": "requirement title",
        "content": "requirement text",
        "strategy": "ROLE_BASED or FEATURE_BASED",
        "target_roles": "list of task types to plan for",
        "prd_sections": "sections of the requirement's current PRD (list, may be empty)",
        "priority": "requirement priority, the default task priority (optional)",
    },
    "code": {
        "task_name": "task name",
        "task_description": "task description",
        "task_type": "task type (BACKEND, FRONTEND, ...)",
        "language": "target language, lower case",
        "framework": "target framework (may be empty)",
        "include_tests": "whether to write tests (bool)",
        "include_docs": "whether to write documentation (bool)",
        "coding_standards": "free-text coding standards (may be empty)",
        "requirement": "the requirement's title and text",
    },
    "review": {
        "files": "list of {path, language, content}",
        "focus": "path of the artifact the review was requested for",
    },
}


def shown(value: Any) -> str:
    """A context value as prompt text: lists of files or sections become readable blocks, not Python reprs."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return (
            "\n\n".join(_item(v) for v in value)
            if any(isinstance(v, dict) for v in value)
            else ", ".join(str(v) for v in value)
        )
    if isinstance(value, dict):
        return _item(value)
    return str(value)


def _item(value: Any) -> str:
    if not isinstance(value, dict):
        return str(value)
    if "content" in value and "path" in value:  # a file: numbered lines, so findings can name them
        lines = "\n".join(f"{n:>5}| {line}" for n, line in enumerate(str(value["content"]).splitlines(), 1))
        return f"--- {value['path']} ({value.get('language') or 'text'})\n{lines}"
    if "content" in value and "title" in value:
        return f"## {value['title']}\n{value['content']}"
    return "\n".join(f"{k}: {shown(v)}" for k, v in value.items())
