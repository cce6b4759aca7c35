"""The assistant: a person's message, answered by the serving layer in process, streamed, and
kept in the conversation; limits and the ledger are the API's own.

Every answer is one request to :class:`~levante.serving.InferenceService` with ``product``
chat: admission takes one place in each of the plan's message windows (atomically, so two
tabs at the limit cannot both pass), the ledger writes one usage record with the user, and a
stopped or disconnected answer is billed, and kept, for what was produced. A message refused
by a limit leaves nothing behind: it is refused before anything is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from enum import StrEnum

import anyio
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from levante.chat import conversations as talk
from levante.chat.plans import ChatPlan, Standing, chat_standing
from levante.chat.search import index_text
from levante.chat.titles import ANSWER_PREFIX, INSTRUCTION, TITLE_TOKENS, clean_title
from levante.engine import ModelNames
from levante.errors import (
    ConflictError,
    ContextLengthExceededError,
    InvalidRequestError,
    LevanteError,
    NotFoundError,
    PermissionDeniedError,
)
from levante.identity import personal_organization
from levante.metering import UsageStatus
from levante.protocol import ChatCompletionRequest, ChatMessage
from levante.quota import Admission, Allowance, Caller
from levante.serving import ChoiceText, InferenceService, RequestContext, ServingPlan
from levante.settings import ChatSettings, ModelSettings
from levante.storage import Database, new_id, utcnow
from levante.storage.models import ChatMessage as StoredMessage
from levante.storage.models import ChatProfile, Membership, User, Workspace
from levante.tenancy import Principal
from levante.tenancy.records import DEFAULT_WORKSPACE
from levante.vocabulary import MessageRole, MessageState, Product

log = logging.getLogger(__name__)

MESSAGE_ENDPOINT = "chat.message"
TITLE_ENDPOINT = "chat.title"


@dataclass(frozen=True, slots=True)
class ModelChoice:
    id: str
    description: str
    allowed: bool


@dataclass(frozen=True, slots=True)
class ChatAccount:
    """A person in the chat: the organisation billed and limited for them now, its plan, and
    their custom instructions."""

    user_id: str
    email: str
    organization_id: str
    workspace_id: str
    personal_organization_id: str
    role: str
    standing: Standing
    instructions: str
    models: tuple[ModelChoice, ...]

    @property
    def plan(self) -> ChatPlan:
        return self.standing.plan

    def default_model(self) -> str | None:
        return next((m.id for m in self.models if m.allowed), None)


class Mode(StrEnum):
    SEND = "send"  # a new message at the end
    REGENERATE = "regenerate"  # the last answer again
    EDIT = "edit"  # a message of the user's, changed: the later turns are replaced


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Answered:
    """The answer as kept: its text, how it ended and what it took."""

    message_id: int
    position: int
    content: str
    state: MessageState
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    time_to_first_token_ms: int | None


AnswerEvent = Delta | Answered


@dataclass(slots=True)
class Reply:
    """An answer admitted and under way: iterate :meth:`events` to stream it."""

    conversation_id: str
    conversation_title: str
    user_position: int
    answer_position: int
    model: str
    _assistant: Assistant
    _plan: ServingPlan
    _message_id: int
    _first_exchange: bool
    _account: ChatAccount

    def events(self) -> AsyncIterator[AnswerEvent]:
        """The answer's text as it comes, then :class:`Answered` once it is kept. Closing the
        iterator early stops the answer: what was produced is kept (``stopped``) and billed."""
        return self._assistant._stream(self)


class Assistant:
    def __init__(
        self,
        database: Database,
        service: InferenceService,
        admission: Admission,
        *,
        models: Sequence[ModelSettings],
        settings: ChatSettings,
        currency: str,
    ) -> None:
        self._database = database
        self._service = service
        self._admission = admission
        self._models = list(models)
        self._names = ModelNames(models)
        self._settings = settings
        self._currency = currency
        self._tasks: set[asyncio.Task[None]] = set()

    # -- who is chatting ----------------------------------------------------------------------

    def account(self, user_id: str) -> ChatAccount:
        """The user's chat account, made on first use (blocking: call off the event loop)."""
        with self._database.session() as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFoundError("this account does not exist")
            profile = session.get(ChatProfile, user.id)
            if profile is None:
                personal = personal_organization(session, user, currency=self._currency)
                profile = ChatProfile(
                    user_id=user.id,
                    personal_organization_id=personal.id,
                    organization_id=personal.id,
                    instructions="",
                    created_at=utcnow(),
                )
                session.add(profile)
                session.flush()
            if profile.personal_organization_id is None:
                profile.personal_organization_id = personal_organization(
                    session, user, currency=self._currency
                ).id
            personal_id: str = profile.personal_organization_id
            org_id = profile.organization_id or personal_id
            membership = session.get(Membership, (user.id, org_id))
            if membership is None:  # no longer in that organisation: back to their own
                org_id = profile.organization_id = personal_id
                membership = session.get_one(Membership, (user.id, org_id))
            workspace = session.scalar(
                select(Workspace.id).where(
                    Workspace.organization_id == org_id, Workspace.name == DEFAULT_WORKSPACE
                )
            )
            standing = chat_standing(session, org_id, names=self._names)
            choices = tuple(
                ModelChoice(m.id, m.description, standing.plan.allows(m.id)) for m in self._models
            )
            return ChatAccount(
                user_id=user.id,
                email=user.email,
                organization_id=org_id,
                workspace_id=workspace or "",
                personal_organization_id=personal_id,
                role=membership.role,
                standing=standing,
                instructions=profile.instructions,
                models=choices,
            )

    def set_instructions(self, user_id: str, instructions: str) -> None:
        if len(instructions) > 4000:
            raise InvalidRequestError(
                "custom instructions may have at most 4,000 characters", param="instructions"
            )
        self.account(user_id)
        with self._database.session() as session:
            session.get_one(ChatProfile, user_id).instructions = instructions.strip()

    async def allowance(self, account: ChatAccount) -> list[Allowance]:
        """Where the user stands under each of the plan's windows now."""
        return await self._admission.allowance(
            _caller(account), MESSAGE_ENDPOINT, account.plan.windows
        )

    # -- answering ----------------------------------------------------------------------------

    async def reply(
        self,
        account: ChatAccount,
        *,
        conversation_id: str | None = None,
        content: str = "",
        model: str | None = None,
        mode: Mode = Mode.SEND,
        position: int | None = None,
    ) -> Reply:
        """Admit an answer and keep the user's message; refused (before anything is kept) by
        a limit, a model the plan does not allow, or a context too long for the plan."""
        if mode != Mode.REGENERATE:
            content = talk.check_message(content)
        model_id = self._choose_model(account, model, conversation_id)
        history, user_position = await anyio.to_thread.run_sync(
            self._history, account, conversation_id, mode, position
        )
        turns = list(history)
        if mode != Mode.REGENERATE:
            turns.append((MessageRole.USER, content))
        request = ChatCompletionRequest(
            model=model_id,
            messages=[
                *_instructions(account),
                *(ChatMessage(role=role.value, content=text) for role, text in turns),
            ],
            stream=True,
            temperature=self._settings.temperature,
        )
        context = RequestContext(
            principal=_principal(account),
            request_id=new_id("req", 24),
            endpoint=MESSAGE_ENDPOINT,
            product=Product.CHAT,
            windows=account.plan.windows,
            max_context_tokens=account.plan.max_context_tokens,
            default_max_tokens=self._settings.max_answer_tokens,
        )
        try:
            plan = await self._service.prepare_chat(context, request)
        except ContextLengthExceededError:
            raise ContextLengthExceededError(
                _too_long(account.plan.max_context_tokens, first=not history), param="content"
            ) from None
        try:
            stored = await anyio.to_thread.run_sync(
                self._keep_message,
                account,
                conversation_id,
                mode,
                user_position,
                content,
                model_id,
                context.request_id,
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await plan.meter.finish(UsageStatus.CANCELLED)  # never ran: given back
            raise
        conversation, title, answer_position, message_id = stored
        return Reply(
            conversation_id=conversation,
            conversation_title=title,
            user_position=user_position,
            answer_position=answer_position,
            model=model_id,
            _assistant=self,
            _plan=plan,
            _message_id=message_id,
            _first_exchange=answer_position == 1,
            _account=account,
        )

    def _choose_model(
        self, account: ChatAccount, model: str | None, conversation_id: str | None
    ) -> str:
        if not model:
            model = account.default_model()
            if model is None:
                raise PermissionDeniedError(
                    "your plan allows none of the models served here", code="model_not_allowed"
                )
        try:
            model_id = self._names.canonical_id(model)
        except LevanteError:
            raise InvalidRequestError(f"no model '{model}' is served here", param="model") from None
        if not account.plan.allows(model_id):
            raise PermissionDeniedError(
                f"the {account.plan.name} plan does not include {model_id}; upgrade to use it",
                param="model",
                code="model_not_allowed",
            )
        return model_id

    def _history(
        self, account: ChatAccount, conversation_id: str | None, mode: Mode, position: int | None
    ) -> tuple[list[tuple[MessageRole, str]], int]:
        """The turns the answer follows, and the user message's position."""
        if conversation_id is None:
            if mode != Mode.SEND:
                raise NotFoundError("this conversation does not exist", param="conversation")
            return [], 0
        with self._database.session() as session:
            messages = talk.transcript(session, account.user_id, conversation_id).messages
        turns = [(MessageRole(m.role), m.content) for m in messages]
        if mode == Mode.SEND:
            return turns, len(turns)
        if mode == Mode.REGENERATE:
            if len(turns) < 2 or turns[-1][0] != MessageRole.ASSISTANT:
                raise InvalidRequestError("there is no answer to regenerate", param="position")
            return turns[:-1], len(turns) - 2
        if position is None or not 0 <= position < len(turns):
            raise InvalidRequestError("no message at this position", param="position")
        if turns[position][0] != MessageRole.USER:
            raise InvalidRequestError("only your own messages can be edited", param="position")
        return turns[:position], position

    def _keep_message(
        self,
        account: ChatAccount,
        conversation_id: str | None,
        mode: Mode,
        user_position: int,
        content: str,
        model: str,
        request_id: str,
    ) -> tuple[str, str, int, int]:
        now = utcnow()
        try:
            with self._database.session() as session:
                if conversation_id is None:
                    conversation = talk.start_conversation(
                        session, account.user_id, content, model=model, now=now
                    )
                else:
                    conversation = talk.conversation_of(session, account.user_id, conversation_id)
                    conversation.model = model
                    talk.truncate(session, conversation, user_position + (mode == Mode.REGENERATE))
                if mode != Mode.REGENERATE:
                    talk.add_message(
                        session, conversation, user_position, MessageRole.USER, content, now=now
                    )
                answer = talk.add_message(
                    session, conversation, user_position + 1, MessageRole.ASSISTANT, "",
                    now=now, state=MessageState.STREAMING, model=model, request_id=request_id,
                )  # fmt: skip
                return conversation.id, conversation.title, answer.position, answer.id
        except ConflictError as exc:
            if not isinstance(exc.__cause__, IntegrityError):  # not two windows at once
                raise
            raise ConflictError(
                "this conversation changed in another window; reload it and send again"
            ) from None

    async def _stream(self, reply: Reply) -> AsyncIterator[AnswerEvent]:
        parts: list[str] = []
        state = MessageState.FAILED
        items = self._service.stream(reply._plan)
        try:
            async with contextlib.aclosing(items):
                async for item in items:
                    if isinstance(item, ChoiceText) and item.text:
                        parts.append(item.text)
                        yield Delta(item.text)
            state = MessageState.COMPLETE
        except (anyio.get_cancelled_exc_class(), GeneratorExit):
            state = MessageState.STOPPED
            raise
        finally:
            with anyio.CancelScope(shield=True):
                finished = await anyio.to_thread.run_sync(
                    self._keep_answer, reply, "".join(parts), state
                )
        if reply._first_exchange and state == MessageState.COMPLETE:
            self._spawn(self._write_title(reply))
        yield finished

    def _keep_answer(self, reply: Reply, content: str, state: MessageState) -> Answered:
        meter = reply._plan.meter
        ttft = meter.first_token_ms
        with self._database.session() as session:
            message = session.get(StoredMessage, reply._message_id)
            if message is not None:  # the conversation may have been deleted meanwhile
                message.content = content
                message.state = state
                message.prompt_tokens = meter.prompt_tokens
                message.cached_tokens = meter.cached_tokens
                message.completion_tokens = meter.completion_tokens
                message.time_to_first_token_ms = ttft
                conversation = talk.conversation_of(
                    session, reply._account.user_id, reply.conversation_id
                )
                index_text(session, conversation, [content])
        return Answered(
            message_id=reply._message_id,
            position=reply.answer_position,
            content=content,
            state=state,
            prompt_tokens=meter.prompt_tokens,
            cached_tokens=meter.cached_tokens,
            completion_tokens=meter.completion_tokens,
            time_to_first_token_ms=ttft,
        )

    # -- titles, off the request path ---------------------------------------------------------

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_title(self, reply: Reply) -> None:
        account = reply._account
        try:
            with self._database.session() as session:
                exchange = session.execute(
                    select(StoredMessage.role, StoredMessage.content)
                    .where(
                        StoredMessage.conversation_id == reply.conversation_id,
                        StoredMessage.position < 2,
                    )
                    .order_by(StoredMessage.position)
                ).all()
            if len(exchange) < 2:
                return
            model = self._settings.title_model or reply.model
            context = RequestContext(
                principal=_principal(account),
                request_id=new_id("req", 24),
                endpoint=TITLE_ENDPOINT,
                product=Product.CHAT,
            )
            request = ChatCompletionRequest(
                model=model,
                messages=[
                    *_instructions(account),
                    *(ChatMessage(role=role, content=content) for role, content in exchange),
                    ChatMessage(role="user", content=INSTRUCTION),
                    ChatMessage(role="assistant", content=ANSWER_PREFIX, prefix=True),
                ],
                max_tokens=TITLE_TOKENS,
                temperature=0,
            )
            plan = await self._service.prepare_chat(context, request)
            choices = await self._service.collect(plan)
            title = clean_title(choices[0].text if choices else "")
            if title:
                await anyio.to_thread.run_sync(self._set_title, reply.conversation_id, title)
        except Exception:
            log.warning("writing the title of %s failed", reply.conversation_id, exc_info=True)

    def _set_title(self, conversation_id: str, title: str) -> None:
        with self._database.session() as session:
            talk.set_model_title(session, conversation_id, title)

    async def settled(self) -> None:
        """Wait for the titles being written (tests; shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.settled()


def _too_long(cap: int | None, *, first: bool) -> str:
    """Why an answer cannot be written: the first message alone is too long (shorten it), or
    the conversation has grown too long (start a new one)."""
    limit = f"the {cap:,} tokens your plan allows" if cap else "what the model can read"
    upgrade = " or upgrade for a longer context" if cap else ""
    if first:
        return f"this message is longer than {limit}; shorten it{upgrade}"
    return f"this conversation has grown longer than {limit}; start a new chat{upgrade}"


def _principal(account: ChatAccount) -> Principal:
    return Principal(
        organization_id=account.organization_id,
        workspace_id=account.workspace_id,
        api_key_id=None,
        is_admin=False,
        allowed_models=account.plan.models,
        expires_at=None,
        user_id=account.user_id,
    )


def _instructions(account: ChatAccount) -> list[ChatMessage]:
    """The user's custom instructions, as the system turn that opens every conversation."""
    if not account.instructions:
        return []
    return [ChatMessage(role="system", content=account.instructions)]


def _caller(account: ChatAccount) -> Caller:
    return Caller(account.organization_id, account.workspace_id, None, account.user_id)
