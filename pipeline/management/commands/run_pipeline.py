"""manage.py run_pipeline translate|evolve|score|filter — the pipeline's steps (SPEC §4, §5)."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.models import Job
from annotation.selectors import job_progress
from pipeline import services
from scoring.evolution import ALL_OPS, ALL_RULES


class Command(BaseCommand):
    help = (
        "Run a pipeline step as a job: translate, evolve (Evol-Instruct), score (IFD) or "
        "filter (IFD selection)."
    )

    def add_arguments(self, parser):
        steps = parser.add_subparsers(dest="step", required=True)
        translate = steps.add_parser(
            "translate", help="translate pending_translation items into Simplified Chinese"
        )
        translate.add_argument("--model", help="model (default: VAD_TRANSLATE_MODEL)")
        translate.add_argument("--chunk-size", type=int, help="items per task")
        translate.add_argument(
            "--item",
            type=int,
            action="append",
            dest="item_ids",
            metavar="ID",
            help="only this item (repeatable)",
        )
        translate.add_argument("--resume", type=int, metavar="JOB", help="queue undone chunks")
        evolve = steps.add_parser("evolve", help="grow new items from seeds with Evol-Instruct")
        evolve.add_argument("--rounds", type=int, default=1, help="depth from the seeds (1)")
        evolve.add_argument(
            "--ops",
            default=",".join(ALL_OPS),
            help=f"comma separated, from {','.join(ALL_OPS)} (default: all)",
        )
        evolve.add_argument(
            "--all-ops",
            action="store_true",
            help="every listed operation for each parent, not one of them",
        )
        evolve.add_argument(
            "--rules",
            help=f"elimination rules on (default: VAD_EVOLVE_RULES; "
            f"from {','.join(ALL_RULES)}; '' for none)",
        )
        evolve.add_argument("--model", help="model (default: VAD_EVOLVE_MODEL)")
        evolve.add_argument("--chunk-size", type=int, help="parents per task")
        evolve.add_argument(
            "--seed",
            type=int,
            action="append",
            dest="item_ids",
            metavar="ID",
            help="only grow from this seed (repeatable)",
        )
        evolve.add_argument("--resume", type=int, metavar="JOB", help="queue undone chunks")
        score = steps.add_parser("score", help="score candidates that have no IFD yet")
        score.add_argument("--model", help="model path or name (default: VAD_IFD_MODEL)")
        score.add_argument("--rescore", action="store_true", help="rescore items of other models")
        score.add_argument("--chunk-size", type=int, help="items per task (default: settings)")
        score.add_argument("--batch-size", type=int, help="pairs per forward pass at most")
        score.add_argument("--max-answer-tokens", type=int, help="answer tokens scored (512)")
        score.add_argument("--resume", type=int, metavar="JOB", help="queue a job's undone chunks")
        filt = steps.add_parser(
            "filter", help="drop ifd >= 1, then keep by --min-ifd or --keep-top"
        )
        rule = filt.add_mutually_exclusive_group()
        rule.add_argument("--min-ifd", type=float, help="keep items with ifd >= X")
        rule.add_argument("--keep-top", type=float, help="keep this fraction with the highest ifd")
        filt.add_argument("--model", help="only items scored with this model")
        for sub in (translate, evolve, score, filt):
            sub.add_argument("--no-wait", action="store_true", help="print the job id and return")

    def handle(self, *args, step, no_wait=False, **options):
        try:
            if step == "translate":
                job = self._start_translate(options)
            elif step == "evolve":
                job = self._start_evolve(options)
            elif step == "score":
                job = self._start_score(options)
            else:
                job = services.filter_job_start(
                    min_ifd=options["min_ifd"], keep_top=options["keep_top"], model=options["model"]
                )
        except services.PipelineConfigError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{job.kind} job {job.pk}: {job.total} items")
        if no_wait:
            return
        job = self._wait(job)
        summary = ", ".join(f"{k}={v}" for k, v in job.report.items()) or f"done={job.done}"
        if job.status != Job.State.SUCCEEDED:
            raise CommandError(f"{job.kind} job {job.pk} {job.status}: {job.error or summary}")
        self.stdout.write(self.style.SUCCESS(f"{job.kind} job {job.pk} succeeded: {summary}"))

    def _start_translate(self, options) -> Job:
        if options["resume"]:
            return services.translate_job_resume(job_id=options["resume"])
        return services.translate_job_start(
            model=options["model"], chunk_size=options["chunk_size"], item_ids=options["item_ids"]
        )

    def _start_evolve(self, options) -> Job:
        if options["resume"]:
            return services.evolve_job_resume(job_id=options["resume"])
        return services.evolve_job_start(
            rounds=options["rounds"],
            ops=options["ops"],
            all_ops=options["all_ops"],
            rules=options["rules"],
            model=options["model"],
            chunk_size=options["chunk_size"],
            item_ids=options["item_ids"],
        )

    def _start_score(self, options) -> Job:
        if options["resume"]:
            return services.score_job_resume(job_id=options["resume"])
        return services.score_job_start(
            model=options["model"],
            rescore=options["rescore"],
            chunk_size=options["chunk_size"],
            batch_size=options["batch_size"],
            max_answer_tokens=options["max_answer_tokens"],
        )

    def _wait(self, job: Job) -> Job:
        bar = tqdm(total=job.total, unit="item", disable=not sys.stdout.isatty())
        started = time.monotonic()
        hinted = False
        while True:
            job.refresh_from_db()
            if job.status == Job.State.QUEUED and not hinted and time.monotonic() - started > 30:
                self.stderr.write(
                    f"job {job.pk} is still queued: is a Celery worker consuming the queue? "
                    "(celery -A vad_review worker -Q gpu,default)"
                )
                hinted = True
            done, total = job_progress(job=job)
            bar.total = total
            bar.update(done - bar.n)
            if job.is_finished:
                bar.close()
                return job
            time.sleep(1)
