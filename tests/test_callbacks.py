"""vitgan_tf.training.callbacks: the training-time budget and its evaluation schedule."""

import keras

from tests.test_case import TestCase
from vitgan_tf.training.callbacks import TrainTimeBudget, TrainTimeSchedule


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class TrainTimeBudgetTest(TestCase):
    def run_steps(self, budget, clock, durations, between=100.0):
        """Feeds the callback batches of the given durations (with untimed gaps)."""
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        budget.set_model(model)
        done = 0
        for batch, duration in enumerate(durations):
            budget.on_train_batch_begin(batch)
            clock.now += duration
            budget.on_train_batch_end(batch)
            clock.now += between  # evaluation, checkpoints: not counted
            done += 1
            if getattr(model, "stop_training", False):
                break
        return done

    def test_stops_at_the_batch_that_reaches_the_budget(self):
        clock = FakeClock()
        budget = TrainTimeBudget(10.0, clock=clock)
        done = self.run_steps(budget, clock, [4.0, 3.0, 2.5, 3.0, 1.0])
        self.assertEqual(done, 4)
        self.assertEqual(budget.steps, 4)
        self.assertAllClose(budget.elapsed, 12.5)
        self.assertEqual(budget.max_step_seconds, 4.0)
        self.assertTrue(budget.exhausted)
        self.assertLessEqual(budget.elapsed, budget.seconds + budget.max_step_seconds)

    def test_none_only_measures(self):
        clock = FakeClock()
        budget = TrainTimeBudget(clock=clock)
        self.assertEqual(self.run_steps(budget, clock, [5.0] * 4), 4)
        self.assertFalse(budget.exhausted)
        self.assertAllClose(budget.elapsed, 20.0)

    def test_bad_budget(self):
        for bad in (0, -1.0, "10"):
            with self.assertRaisesRegex(ValueError, f"seconds={bad!r}"):
                TrainTimeBudget(bad)


class TrainTimeScheduleTest(TestCase):
    def fire_steps(self, schedule, budget, clock, durations):
        """The timer's step counts at which `schedule` fires (batch ends, in order)."""
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        budget.set_model(model)
        fired = []
        for batch, duration in enumerate(durations):
            budget.on_train_batch_begin(batch)
            clock.now += duration
            budget.on_train_batch_end(batch)
            if schedule():
                fired.append(budget.steps)
            if getattr(model, "stop_training", False):
                break
        return fired

    def test_fires_once_per_mark_at_a_logging_boundary(self):
        clock = FakeClock()
        budget = TrainTimeBudget(None, clock=clock)
        schedule = TrainTimeSchedule(budget, 1.0, every_n_steps=2)  # every 60 s
        # 25 s steps: 60 s passed at step 3 -> fires at step 4 (boundary); 120 s at step
        # 5 -> step 6; a 100 s step passes two marks (180, 240) -> fires once.
        fired = self.fire_steps(schedule, budget, clock, [25.0] * 6 + [100.0, 5.0, 1.0, 1.0])
        self.assertEqual(fired, [4, 6, 8])

    def test_at_end_and_resume_offset(self):
        clock = FakeClock()
        budget = TrainTimeBudget(100.0, clock=clock)
        schedule = TrainTimeSchedule(budget, 1.0, every_n_steps=1, at_end=True)
        self.assertEqual(self.fire_steps(schedule, budget, clock, [30.0] * 10), [2, 4])
        # A resumed run 50 s in: the next mark is 60 s, 10 s of this process's time.
        clock = FakeClock()
        budget = TrainTimeBudget(None, clock=clock)
        schedule = TrainTimeSchedule(budget, 1.0, every_n_steps=1, offset_seconds=50.0)
        self.assertEqual(self.fire_steps(schedule, budget, clock, [6.0] * 12), [2, 12])

    def test_bad_arguments(self):
        for bad in (0, -1.0, "1", True):
            with self.assertRaisesRegex(ValueError, "minutes"):
                TrainTimeSchedule(TrainTimeBudget(), bad, 1)
        with self.assertRaisesRegex(ValueError, "every_n_steps"):
            TrainTimeSchedule(TrainTimeBudget(), 1.0, 0)
