"""scanner.engines.retry: the one policy both engines follow when a worker dies."""

from scanner.engines.retry import retry_alone, worker_failed


def test_a_batch_is_retried_file_by_file_and_a_lone_file_is_not():
    assert retry_alone(["a", "b", "c"]) == [["a"], ["b"], ["c"]]
    assert retry_alone(["a"]) == []
    assert retry_alone([]) == []


def test_a_file_that_kills_its_worker_alone_is_an_error_record():
    record = worker_failed("x/b.png", "BrokenProcessPool")
    assert record.status == "error" and record.path == "x/b.png"
    assert record.error["code"] == "worker_failed" and "x/b.png" in record.error["message"]
    assert "BrokenProcessPool" in record.error["message"]
