"""The body budget: requests wait for their share instead of all being held at once."""

from __future__ import annotations

import asyncio

import pytest

from hookrelay.web.body import BodyBudget


def test_a_request_waits_for_its_share_and_gets_it_when_one_is_given_back() -> None:
    """Two shares that do not fit together run one after the other; a small one slips past."""

    async def scenario() -> list[str]:
        budget = BodyBudget(100)
        order: list[str] = []
        first_in = asyncio.Event()
        release_first = asyncio.Event()

        async def hold(name: str, size: int, until: asyncio.Event | None = None) -> None:
            async with budget.share(size):
                order.append(f"{name} in")
                if until is not None:
                    first_in.set()
                    await until.wait()
                order.append(f"{name} out")

        first = asyncio.create_task(hold("big-1", 80, release_first))
        await first_in.wait()
        second = asyncio.create_task(hold("big-2", 80))
        small = asyncio.create_task(hold("small", 20))
        await small
        assert budget.free == 20
        release_first.set()
        await asyncio.gather(first, second)
        assert budget.free == 100
        return order

    order = asyncio.run(scenario())
    assert order.index("small out") < order.index("big-1 out")
    assert order.index("big-1 out") < order.index("big-2 in")


@pytest.mark.parametrize(
    ("size", "held"), [(0, 0), (60, 60), (500, 100)], ids=["none", "part", "over-all"]
)
def test_a_share_is_at_most_the_whole_budget(size: int, held: int) -> None:
    """A share larger than the budget takes the whole budget (it runs alone) instead of waiting forever."""

    async def scenario() -> int:
        budget = BodyBudget(100)
        async with budget.share(size):
            return budget.total - budget.free

    assert asyncio.run(scenario()) == held


def test_a_cancelled_request_gives_its_share_back() -> None:
    """A request cancelled while it holds a share (its client went away) returns the share."""

    async def scenario() -> int:
        budget = BodyBudget(100)
        entered = asyncio.Event()

        async def hold() -> None:
            async with budget.share(70):
                entered.set()
                await asyncio.sleep(60)

        task = asyncio.create_task(hold())
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        return budget.free

    assert asyncio.run(scenario()) == 100


def test_a_request_cancelled_while_waiting_leaves_the_queue_and_takes_nothing() -> None:
    """A request whose client goes away while it waits for its share takes no share with it."""

    async def scenario() -> tuple[int, bool]:
        budget = BodyBudget(100)
        release = asyncio.Event()
        entered = asyncio.Event()
        second_in = asyncio.Event()

        async def first() -> None:
            async with budget.share(100):
                entered.set()
                await release.wait()

        async def waiting() -> None:
            async with budget.share(50):
                pass  # never reached: cancelled while waiting

        async def second() -> None:
            async with budget.share(100):
                second_in.set()

        holder = asyncio.create_task(first())
        await entered.wait()
        waiter = asyncio.create_task(waiting())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        later = asyncio.create_task(second())
        release.set()
        await asyncio.gather(holder, later)
        return budget.free, second_in.is_set()

    assert asyncio.run(scenario()) == (100, True)
