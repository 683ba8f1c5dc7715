"""The processes that run background jobs: worker threads without a broker (``embedded``),
Celery over Redis or RabbitMQ (``broker``), and the lease each running job keeps
(``lease``). An entry point like the CLI and the web: the job kinds and how a job is
claimed and run are services (``services.jobs``)."""
