"""One contract for the search index on SQLite (FTS5) and PostgreSQL (tsvector + GIN), through the search use case:
ranking, highlighted snippets, every kind (conversations by their title or any message, each once), membership
scoping, edits and deletions seen at once, query syntax, and hostile text that gives results or BAD_USER_INPUT,
never a crash."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from domain.enums import ChatMessageStatus, ChatRole, Role, TaskType
from domain.errors import Forbidden, InvalidInput, NotFound
from domain.model import ChatMessage, Conversation, PrdDocument, Requirement, User
from domain.permissions import Viewer
from domain.search import SearchHit, SearchKind
from domain.services.chat_context import MAX_SEARCH_HITS
from domain.services.chat_search import search_for_chat
from persistence.migrations import upgrade
from server.container import Container, build_container
from server.settings import Settings

_migrated: set[str] = set()


@dataclass
class World:
    container: Container

    @property
    def services(self) -> Any:
        return self.container.services

    async def user(self, role: Role) -> Viewer:
        name = f"{role.value.lower()}-{uuid.uuid4().hex[:8]}"
        now = self.services.deps.clock.now()
        user = User(
            username=name, email=f"{name}@example.com", password_hash="!", role=role, created_at=now, updated_at=now
        )
        async with self.services.deps.uow() as uow:
            uow.users.add(user)
            await uow.commit()
        return Viewer(user_id=user.id, role=role, username=name)

    async def project(self, owner: Viewer, name: str = "Apollo") -> uuid.UUID:
        return (await self.services.projects.create(owner, name=name)).id

    async def requirement(self, viewer: Viewer, project_id: uuid.UUID, title: str, content: str) -> Requirement:
        return await self.services.requirements.create(viewer, project_id=project_id, title=title, content=content)

    async def search(self, viewer: Viewer, project_id: uuid.UUID, text: str, **kw: Any) -> list[SearchHit]:
        return await self.services.search.search(viewer, project_id, text, **kw)

    async def titles(self, viewer: Viewer, project_id: uuid.UUID, text: str, **kw: Any) -> list[str]:
        return [hit.title for hit in await self.search(viewer, project_id, text, **kw)]

    async def conversation(self, viewer: Viewer, project_id: uuid.UUID, title: str) -> Conversation:
        about = await self.requirement(viewer, project_id, "Subject", "what the conversation is about")
        return await self.services.chat.start(viewer, project_id, "Requirement", about.id, title)

    async def message(self, conversation: Conversation, role: ChatRole, content: str) -> ChatMessage:
        """A message written straight to the table (as the reply job does at its end): the triggers index it."""
        async with self.services.deps.uow() as uow:
            found = await uow.chat_messages.find(conversation_id=conversation.id)
            now = self.services.deps.clock.now()
            message = ChatMessage(
                conversation_id=conversation.id,
                project_id=conversation.project_id,
                role=role,
                seq=max((m.seq for m in found), default=0) + 1,
                content=content,
                status=ChatMessageStatus.COMPLETE,
                created_at=now,
                updated_at=now,
            )
            uow.chat_messages.add(message)
            await uow.commit()
        return message


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('search')}/search.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request, tmp_path):
    # One migrated database per backend; every test works in projects of its own.
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    if url not in _migrated:
        upgrade(url)
        _migrated.add(url)
    container = build_container(Settings(database_url=url, data_dir=tmp_path))
    try:
        yield World(container)
    finally:
        await container.aclose()


@pytest.fixture
async def admin(world: World) -> Viewer:
    return await world.user(Role.PROJECT_ADMIN)


async def test_title_and_repeated_matches_rank_above_a_passing_mention(world, admin):
    project = await world.project(admin)
    await world.requirement(admin, project, "Audit log export", "Export audits as CSV. " * 20 + "Mentions password.")
    await world.requirement(admin, project, "Password reset", "A password reset link is emailed; the password changes.")
    await world.requirement(admin, project, "Unrelated", "Nothing to see here.")

    hits = await world.search(admin, project, "password")

    assert [h.title for h in hits] == ["Password reset", "Audit log export"]
    assert hits[0].rank > hits[1].rank
    assert {h.kind for h in hits} == {SearchKind.REQUIREMENT}


async def test_snippets_highlight_the_matched_words_and_stems(world, admin):
    project = await world.project(admin)
    await world.requirement(
        admin, project, "Sign-in", "Users sign in with a username. Reset links expire after thirty minutes."
    )

    [hit] = await world.search(admin, project, "link")

    assert "«links»" in hit.snippet
    assert "«" not in hit.snippet.replace("«links»", "")
    assert "expire" in hit.snippet


async def test_every_kind_is_indexed_and_kinds_filter(world, admin):
    project = await world.project(admin)
    req = await world.requirement(admin, project, "Accounts", "People have accounts.")
    task = await world.services.tasks.create(
        admin, requirement_id=req.id, name="Send the zeppelin email", task_type=TaskType.BACKEND
    )
    await world.services.artifacts.submit(
        admin, task_id=task.id, file_path="app/zeppelin_mailer.py", content="print('hi')\n", language="python"
    )
    async with world.services.deps.uow() as uow:  # a write outside the services: the triggers index it too
        sections = [{"section_id": "overview", "title": "Overview", "content": "The zeppelin fleet.", "features": []}]
        now = world.services.deps.clock.now()
        prd = PrdDocument(requirement_id=req.id, project_id=project, version=1, sections=sections)
        prd.created_at = prd.updated_at = now
        uow.prds.add(prd)
        await uow.commit()

    hits = await world.search(admin, project, "zeppelin")
    only_tasks = await world.search(admin, project, "zeppelin", kinds=[SearchKind.TASK])
    files = await world.search(admin, project, "mailer", kinds=[SearchKind.ARTIFACT, SearchKind.PRD])

    assert sorted(h.kind.value for h in hits) == ["artifact", "prd", "task"]
    assert {h.kind: h.title for h in hits}[SearchKind.PRD] == "PRD v1"
    assert [(h.kind, h.entity_id) for h in only_tasks] == [(SearchKind.TASK, task.id)]
    assert [h.title for h in files] == ["app/zeppelin_mailer.py"]


async def test_a_conversation_is_found_once_by_its_title_or_any_message_and_titled_by_itself(world, admin):
    project = await world.project(admin)
    talk = await world.conversation(admin, project, "Rollout of the okapi service")
    await world.message(talk, ChatRole.USER, "Why did the okapi rollout stall at the readiness probe?")
    await world.message(talk, ChatRole.ASSISTANT, "The readiness probe of okapi timed out after 30 seconds.")
    other = await world.conversation(admin, project, "Unrelated")
    await world.message(other, ChatRole.USER, "Nothing about that animal here.")

    hits = await world.search(admin, project, "okapi")
    by_message = await world.search(admin, project, "readiness probe", kinds=[SearchKind.CONVERSATION])
    phrase = await world.search(admin, project, '"timed out"', kinds=[SearchKind.CONVERSATION])

    assert [(h.kind, h.entity_id, h.title) for h in hits] == [
        (SearchKind.CONVERSATION, talk.id, "Rollout of the okapi service")
    ]
    assert [(h.entity_id, h.title) for h in by_message] == [(talk.id, "Rollout of the okapi service")]
    assert "«readiness» «probe»" in by_message[0].snippet
    assert [h.entity_id for h in phrase] == [talk.id] and "«timed" in phrase[0].snippet  # SQLite marks the phrase
    assert "okapi timed out after 30 seconds" in phrase[0].snippet.replace("«", "").replace("»", "")
    assert await world.search(admin, project, "okapi", kinds=[SearchKind.REQUIREMENT]) == []


async def test_a_conversation_matches_the_whole_query_within_one_message_or_its_title(world, admin):
    project = await world.project(admin)
    talk = await world.conversation(admin, project, "Kiwi")
    await world.message(talk, ChatRole.USER, "first mentions the mango")
    await world.message(talk, ChatRole.USER, "second mentions the papaya")

    assert await world.titles(admin, project, "mango papaya") == []  # documented: no match across messages
    assert await world.titles(admin, project, "mango OR papaya") == ["Kiwi"]
    assert await world.titles(admin, project, "papaya -mango") == ["Kiwi"]  # the second message alone matches


async def test_a_new_message_is_searchable_at_once_and_a_deleted_conversation_is_gone(world, admin):
    project = await world.project(admin)
    talk = await world.conversation(admin, project, "Capybara")
    assert await world.search(admin, project, "tapir") == []

    await world.services.chat.send(admin, talk.id, "Can the tapir cache be warmed?")  # stores the user's message

    [hit] = await world.search(admin, project, "tapir")
    assert (hit.kind, hit.entity_id, hit.title) == (SearchKind.CONVERSATION, talk.id, "Capybara")
    assert "«tapir»" in hit.snippet

    await world.services.chat.delete(admin, talk.id)

    assert await world.search(admin, project, "tapir") == []
    assert await world.search(admin, project, "capybara") == []


async def test_a_reply_is_searchable_once_its_text_is_stored_and_its_old_text_is_not(world, admin):
    project = await world.project(admin)
    talk = await world.conversation(admin, project, "Burrows")
    reply = await world.message(talk, ChatRole.ASSISTANT, "thinking about marmots")
    assert await world.titles(admin, project, "wombat") == []

    async with world.services.deps.uow() as uow:  # as the reply job stores the streamed text at its end
        row = await uow.chat_messages.get(reply.id)
        row.content = "Wombats dig the deepest burrows."
        await uow.commit()

    assert await world.titles(admin, project, "wombat") == ["Burrows"]
    assert await world.titles(admin, project, "marmots") == []


async def test_conversation_hits_go_to_whoever_may_read_the_conversation(world, admin):
    """Reading a conversation needs what searching its project needs (requirement:read and membership, whoever
    started it): every role that may search the project finds it, and reads it."""
    project = await world.project(admin)
    talk = await world.conversation(admin, project, "Lemur budget")
    await world.message(talk, ChatRole.USER, "the lemur budget is secret")
    outsider = await world.user(Role.DEVELOPER)

    for role in Role:
        member = await world.user(role)
        if role is not Role.SUPER_ADMIN:
            await world.services.projects.add_member(admin, project, member.user_id)
        hits = await world.search(member, project, "lemur")
        readable = await world.services.chat.get(member, talk.id)
        assert [(h.entity_id, readable.id) for h in hits] == [(talk.id, talk.id)], role
    with pytest.raises(Forbidden):
        await world.search(outsider, project, "lemur")
    with pytest.raises(Forbidden):
        await world.services.chat.get(outsider, talk.id)


async def test_the_chats_context_search_cites_other_conversations_but_not_the_one_being_answered(world, admin):
    """The conversation being answered is already in the model's prompt (its turns): found by its own question, it
    would only crowd out the project's other knowledge. Earlier conversations are context like any object."""
    project = await world.project(admin)
    earlier = await world.conversation(admin, project, "Earlier")
    await world.message(earlier, ChatRole.USER, "We agreed the heron importer retries three times.")
    for n in range(MAX_SEARCH_HITS - 1):  # with `earlier`, as many objects as the chat takes, besides `current`
        await world.requirement(admin, project, f"Heron {n}", "the heron importer")
    current = await world.conversation(admin, project, "How many retries for the heron importer?")
    await world.message(current, ChatRole.USER, "How many retries does the heron importer make?")

    question = "How many retries does the heron importer make?"

    items = await search_for_chat(world.services.search)(admin, current, question)

    assert ("Conversation", str(earlier.id)) in {(i.entity_type, i.entity_id) for i in items}, items
    assert str(current.id) not in {i.entity_id for i in items}
    assert len(items) == MAX_SEARCH_HITS  # the excluded hit does not cost a place


async def test_a_huge_prd_of_distinct_tokens_is_written_and_searchable(world, admin):
    project = await world.project(admin)
    req = await world.requirement(admin, project, "Big", "big")
    sections = [
        {"section_id": f"s{i}", "title": "Huge", "content": " ".join(uuid.uuid4().hex[:10] for _ in range(4_500))}
        for i in range(20)
    ]
    async with world.services.deps.uow() as uow:
        now = world.services.deps.clock.now()
        prd = PrdDocument(requirement_id=req.id, project_id=project, version=1, sections=sections)
        prd.created_at = prd.updated_at = now
        uow.prds.add(prd)
        await uow.commit()

    [hit] = await world.search(admin, project, sections[0]["content"].split()[7])

    assert (hit.kind, hit.entity_id) == (SearchKind.PRD, prd.id)


async def test_a_non_member_never_sees_another_projects_hits(world, admin):
    outsider = await world.user(Role.PROJECT_ADMIN)
    ours = await world.project(admin, "Ours")
    theirs = await world.project(outsider, "Theirs")
    await world.requirement(admin, ours, "Ours quokka", "quokka")
    await world.requirement(outsider, theirs, "Theirs quokka", "quokka")
    root = await world.user(Role.SUPER_ADMIN)

    assert await world.titles(admin, ours, "quokka") == ["Ours quokka"]
    with pytest.raises(Forbidden):
        await world.search(admin, theirs, "quokka")
    assert await world.titles(root, theirs, "quokka") == ["Theirs quokka"]
    with pytest.raises(NotFound):
        await world.search(root, uuid.uuid4(), "quokka")


async def test_edits_are_visible_at_once(world, admin):
    project = await world.project(admin)
    req = await world.requirement(admin, project, "Walrus", "The walrus story.")
    task = await world.services.tasks.create(admin, requirement_id=req.id, name="Feed", task_type=TaskType.BACKEND)

    await world.services.requirements.update(admin, req.id, title="Narwhal", content="The narwhal story.")
    await world.services.tasks.update(admin, task.id, description="Feed the narwhal")

    assert await world.search(admin, project, "walrus") == []
    assert sorted(await world.titles(admin, project, "narwhal")) == ["Feed", "Narwhal"]


async def test_a_rolled_back_write_leaves_no_trace(world, admin):
    project = await world.project(admin)
    async with world.services.deps.uow() as uow:
        now = world.services.deps.clock.now()
        uow.requirements.add(
            Requirement(
                project_id=project, title="Ghost", content="ghostly", created_by=None, created_at=now, updated_at=now
            )
        )
        await uow.flush()
        await uow.rollback()

    assert await world.search(admin, project, "ghostly") == []


async def test_deleted_objects_and_what_they_cascade_to_are_gone(world, admin):
    project = await world.project(admin)
    root = await world.user(Role.SUPER_ADMIN)
    keep = await world.requirement(admin, project, "Keep ibex", "ibex")
    gone = await world.requirement(admin, project, "Gone ibex", "ibex")
    task = await world.services.tasks.create(admin, requirement_id=gone.id, name="ibex task", task_type=TaskType.DOCS)
    other = await world.services.tasks.create(admin, requirement_id=keep.id, name="ibex two", task_type=TaskType.DOCS)

    await world.services.tasks.delete(admin, other.id)
    assert sorted(await world.titles(admin, project, "ibex")) == ["Gone ibex", "Keep ibex", "ibex task"]

    await world.services.requirements.delete(admin, gone.id)  # the database cascades to its task
    assert await world.titles(admin, project, "ibex") == ["Keep ibex"]
    assert task.id not in {h.entity_id for h in await world.search(admin, project, "ibex")}

    talk = await world.conversation(admin, project, "ibex chat")
    await world.message(talk, ChatRole.USER, "an ibex question")
    await world.services.projects.delete(admin, project)
    with pytest.raises(NotFound):
        await world.search(root, project, "ibex")
    async with world.services.deps.uow() as uow:  # nothing left behind for the deleted project
        assert await uow.requirements.find(project_id=project) == []
        assert await uow.chat_messages.find(project_id=project) == []
        indexed = sa.text("SELECT count(*) FROM search_index WHERE project_id = :p")
        assert (await uow.session.execute(indexed.bindparams(sa.bindparam("p", project, sa.Uuid())))).scalar() == 0


async def test_phrases_or_and_exclusion(world, admin):
    project = await world.project(admin)
    await world.requirement(admin, project, "One", "the red apple falls")
    await world.requirement(admin, project, "Two", "an apple that is red")
    await world.requirement(admin, project, "Three", "a green pear")

    assert await world.titles(admin, project, '"red apple"') == ["One"]
    assert sorted(await world.titles(admin, project, "apple -falls")) == ["Two"]
    assert sorted(await world.titles(admin, project, "pear OR falls")) == ["One", "Three"]
    assert sorted(await world.titles(admin, project, "red apple")) == ["One", "Two"]
    assert await world.titles(admin, project, "apple", first=1) in (["One"], ["Two"])
    asked = "Which one has a red apple or a green pear?"
    assert set(await world.titles(admin, project, asked, any_word=True)) == {"One", "Two", "Three"}
    assert await world.titles(admin, project, asked) == []


HOSTILE = [
    '"',
    '"unclosed phrase',
    'a"b"c',
    "AND",
    "OR OR OR",
    "NOT apple",
    "apple NOT",
    "-",
    "--apple",
    "*",
    "apple*",
    "^apple",
    "title:apple",
    "NEAR(apple red)",
    "(apple",
    "apple)",
    "{title body}: apple",
    "'; DROP TABLE requirements; --",
    "apple & !red | <-> :*",
    "ápple 🍎 日本語",
    "a" * 400,
    "apple " * 40,
    "x" * 600,
    "apple\x00red",
    "\x07",
    "   ",
    "",
]


async def test_hostile_text_gives_results_or_bad_user_input(world, admin):
    project = await world.project(admin)
    await world.requirement(admin, project, "Apple", "the red apple")
    outcomes = {}

    for text in HOSTILE:
        try:
            hits = await world.search(admin, project, text)
        except InvalidInput as error:
            outcomes[text] = error.field
        else:
            outcomes[text] = [h.title for h in hits]

    assert all(outcome in ("text", [], ["Apple"]) for outcome in outcomes.values()), outcomes
    assert outcomes['"unclosed phrase'] == []
    assert outcomes["(apple"] == outcomes["apple*"] == outcomes["^apple"] == ["Apple"]
    assert outcomes["x" * 600] == outcomes["apple\x00red"] == outcomes["   "] == outcomes["apple " * 40] == "text"
    assert await world.titles(admin, project, "apple") == ["Apple"]  # the index still answers


async def test_first_outside_its_range_or_no_kinds_is_bad_user_input(world, admin):
    project = await world.project(admin)
    for first in (0, 101):
        with pytest.raises(InvalidInput) as error:
            await world.search(admin, project, "apple", first=first)
        assert error.value.field == "first"
    with pytest.raises(InvalidInput) as error:
        await world.search(admin, project, "apple", kinds=[])
    assert error.value.field == "kinds"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_the_migration_indexes_rows_written_before_it(request, tmp_path, backend):
    url = f"sqlite:///{tmp_path}/old.db" if backend == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    upgrade(url, "0003")
    container = build_container(Settings(database_url=url, data_dir=tmp_path))
    try:
        world = World(container)
        admin = await world.user(Role.PROJECT_ADMIN)
        project = await world.project(admin)
        req = await world.requirement(admin, project, "Older", "written before the index existed")
        await world.services.tasks.create(admin, requirement_id=req.id, name="Older task", task_type=TaskType.DOCS)

        upgrade(url, "head")

        assert sorted(await world.titles(admin, project, "older")) == ["Older", "Older task"]
    finally:
        await container.aclose()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_the_conversation_migration_indexes_conversations_written_before_it(request, tmp_path, backend):
    url = f"sqlite:///{tmp_path}/old.db" if backend == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    upgrade(url, "0050")
    container = build_container(Settings(database_url=url, data_dir=tmp_path))
    try:
        world = World(container)
        admin = await world.user(Role.PROJECT_ADMIN)
        project = await world.project(admin)
        talk = await world.conversation(admin, project, "Older talk")
        await world.message(talk, ChatRole.USER, "said before conversations were searchable")

        upgrade(url, "head")
        await world.message(talk, ChatRole.ASSISTANT, "and this reply after")

        assert [h.entity_id for h in await world.search(admin, project, "older")] == [talk.id]
        assert [h.title for h in await world.search(admin, project, "searchable")] == ["Older talk"]
        assert [h.title for h in await world.search(admin, project, "reply")] == ["Older talk"]
    finally:
        await container.aclose()


async def test_install_kind_again_restores_what_a_sqlite_table_rebuild_dropped(tmp_path):
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    from persistence import search_schema
    from persistence.migrations import context_options
    from tests.integration.test_migrations import search_triggers, with_connection

    url = f"sqlite:///{tmp_path}/rebuilt.db"
    upgrade(url)
    container = build_container(Settings(database_url=url, data_dir=tmp_path))
    try:
        world = World(container)
        admin = await world.user(Role.PROJECT_ADMIN)
        project = await world.project(admin)
        await world.requirement(admin, project, "Before", "rebuild")

        def rebuild_requirements(connection):
            context = MigrationContext.configure(connection, opts=context_options("sqlite"))
            with Operations(context).batch_alter_table("requirements", recreate="always") as batch:
                batch.add_column(sa.Column("budget", sa.Integer()))

        await asyncio.to_thread(with_connection, url, rebuild_requirements)
        assert "search_index_requirement_insert" not in await asyncio.to_thread(with_connection, url, search_triggers)

        def reinstall(connection):
            search_schema.install_kind(lambda s: connection.execute(sa.text(s)), "sqlite", search_schema.REQUIREMENT)

        await asyncio.to_thread(with_connection, url, reinstall)
        await world.requirement(admin, project, "After", "rebuild")

        assert sorted(await world.titles(admin, project, "rebuild")) == ["After", "Before"]
    finally:
        await container.aclose()
