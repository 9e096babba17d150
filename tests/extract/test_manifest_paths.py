"""One rule for relative paths in manifests: relative to the manifest's folder, for every extractor."""

from pathlib import Path


def test_audio_video_and_image_read_the_same_file_for_the_same_row(tmp_path, monkeypatch):
    # was: extract-audio read m/clip.wav (the manifest's folder), extract-video ./clip.wav (the current
    # directory first) and extract-image ./img.png likewise
    from zsltool.extract.inputs import collect_audio, collect_image, collect_video

    (tmp_path / "m" / "sub").mkdir(parents=True)
    for f in ("clip.wav", "sub/img.png"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_bytes(b"in the current directory")
        (tmp_path / "m" / f).write_bytes(b"next to the manifest")
    (tmp_path / "m" / "clips.csv").write_text("id,path,labels,start,end\nc,clip.wav,dog,,\nd,~/x.wav,dog,,\n")
    (tmp_path / "m" / "crops.csv").write_text("id,image_id,path,class,xmin,xmax,ymin,ymax\n"
                                              "k,img,sub/img.png,dog,0,1,0,1\n")
    monkeypatch.chdir(tmp_path)
    manifest = Path("m/clips.csv")  # itself relative to the current directory
    audio = [it.source for it in collect_audio([manifest])[0]]
    video = [it.source[0] for it in collect_video([manifest])[0]]
    image = [it.source[0] for it in collect_image([Path("m/crops.csv")])[0]]
    expected = tmp_path.resolve() / "m" / "clip.wav"
    assert audio[0] == video[0] == str(expected)
    assert audio[1] == video[1] == str(Path("~/x.wav").expanduser())
    assert Path(image[0]).read_bytes() == b"next to the manifest"
    from zsltool.classes.manifest import resolve_manifest_path

    assert resolve_manifest_path("m/crops.csv", "/abs/p.png") == Path("/abs/p.png")
