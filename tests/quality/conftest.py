import threading

import sqlalchemy as sa

from qms.extensions import db
from qms.services import nonconformities
from tests.documents.conftest import NOW, birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at, desk, in_force, three_days  # noqa: F401  (fixtures)


def race_check_overdue(app, now, runs: int = 2) -> list[int]:
    """`runs` concurrent `check_overdue(now)` runs, each in its own app context, released
    together: how many nonconformities each raised (0 for a run that SQLite's lock turned
    away). Any other error fails the test."""
    results, errors, barrier = [], [], threading.Barrier(runs, timeout=120)

    def run():
        with app.app_context():
            try:
                barrier.wait()
                results.append(len(nonconformities.check_overdue(now)))
                db.session.commit()
            except sa.exc.OperationalError:  # SQLite: the loser may find the database locked
                db.session.rollback()
                results.append(0)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == runs, "a run did not finish"
    return results
