"""manage.py run_pipeline score|filter — the IFD steps of the pipeline (SPEC §4, §5)."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.models import Job
from annotation.selectors import job_progress
from pipeline import services


class Command(BaseCommand):
    help = "Run a pipeline step as a job: score (IFD) or filter (IFD selection)."

    def add_arguments(self, parser):
        steps = parser.add_subparsers(dest="step", required=True)
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
        for sub in (score, filt):
            sub.add_argument("--no-wait", action="store_true", help="print the job id and return")

    def handle(self, *args, step, no_wait=False, **options):
        try:
            if step == "score":
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
