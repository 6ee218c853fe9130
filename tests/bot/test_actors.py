"""The gate's memory of senders: fresh rows only, same names only, bounded, forgettable."""

from __future__ import annotations

from bot.actors import Actors
from storage.models import Role, User


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _user(user_id: int) -> User:
    return User(id=user_id, username="ada", display_name="Ada L", role=Role.MEMBER, banned=False)


def test_a_row_is_served_until_it_expires() -> None:
    clock = Clock()
    actors = Actors(ttl=30, clock=clock)
    ada = _user(1)
    actors.remember(ada, "ada", "Ada L")
    clock.now = 29.9
    assert actors.get(1, "ada", "Ada L") is ada
    clock.now = 30.1
    assert actors.get(1, "ada", "Ada L") is None
    assert actors.get(1, "ada", "Ada L") is None, "an expired row is dropped"


def test_a_new_name_on_telegram_means_asking_the_database_again() -> None:
    actors = Actors(clock=Clock())
    actors.remember(_user(1), "ada", "Ada L")
    assert actors.get(1, "ada_l", "Ada L") is None
    actors.remember(_user(1), "ada", "Ada L")
    assert actors.get(1, "ada", "Ada Lovelace") is None
    assert actors.get(2, "ada", "Ada L") is None


def test_forgotten_rows_and_the_oldest_beyond_the_size_are_gone() -> None:
    actors = Actors(size=2, clock=Clock())
    for user_id in (1, 2, 3):
        actors.remember(_user(user_id), "ada", "Ada L")
    assert actors.get(1, "ada", "Ada L") is None
    assert actors.get(3, "ada", "Ada L") is not None
    actors.forget(3)
    actors.forget(99)
    assert actors.get(3, "ada", "Ada L") is None
    assert actors.get(2, "ada", "Ada L") is not None
