"""Preview playback: play/pause, what is playing (by title), a seek bar, the time and the volume, over
QMediaPlayer + QAudioOutput. A machine without an audio output says so instead of pretending to play."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QT_TRANSLATE_NOOP, QBuffer, QByteArray, QIODevice, Qt, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaDevices, QMediaPlayer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget

from app import track_format
from app.elided_label import ElidedLabel

DEFAULT_VOLUME = 0.8
VOLUME_STEPS = 100  # the volume slider's range
VOLUME_SLIDER_WIDTH = 90  # px
NO_AUDIO_OUTPUT_TEXT = QT_TRANSLATE_NOOP("PlayerBar", "No audio output: this computer has no sound device that can "
                                                     "play the preview")  # shown through tr()


def audio_output_available() -> bool:
    """Whether Qt sees any audio output device (a headless machine or a broken sound server has none)."""
    return bool(QMediaDevices.audioOutputs())


class PlayerBar(QWidget):
    """Plays one file at a time; any list in the app calls ``play(path)``; ``failed(message)`` on errors."""

    failed = Signal(str)
    position_changed = Signal(object, float)  # the playing path and how far through it (0-1), for playheads

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.player = QMediaPlayer(self)
        self.audio_output = QAudioOutput(self)
        self.audio_output.setVolume(DEFAULT_VOLUME)
        self.player.setAudioOutput(self.audio_output)
        self.current_path: str | None = None
        self._buffer: QBuffer | None = None
        self._seeking = False
        self._pending_fraction: float | None = None  # a seek asked for before the duration was known

        self.play_button = QToolButton()
        self.play_button.setToolTip(self.tr("Play / pause (Space)"))
        self.play_button.setEnabled(False)
        self.seek_slider = QSlider(Qt.Orientation.Horizontal)
        self.seek_slider.setEnabled(False)
        self.seek_slider.setToolTip(self.tr("Seek"))
        self.time_label = QLabel("0:00 / 0:00")
        self.now_playing = ElidedLabel(self.tr("Nothing playing — double-click a track, or select it and press Space"))
        self.volume_slider = QSlider(Qt.Orientation.Horizontal)
        self.volume_slider.setRange(0, VOLUME_STEPS)
        self.volume_slider.setValue(round(DEFAULT_VOLUME * VOLUME_STEPS))
        self.volume_slider.setFixedWidth(VOLUME_SLIDER_WIDTH)
        self.volume_slider.setToolTip(self.tr("Volume"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.play_button)
        layout.addWidget(self.now_playing)
        layout.addWidget(self.seek_slider, 1)
        layout.addWidget(self.time_label)
        layout.addWidget(QLabel(self.tr("Volume")))
        layout.addWidget(self.volume_slider)
        self.volume_slider.valueChanged.connect(lambda value: self.audio_output.setVolume(value / VOLUME_STEPS))

        self.play_button.clicked.connect(self.toggle)
        self.seek_slider.sliderPressed.connect(self._begin_seek)
        self.seek_slider.sliderReleased.connect(self._end_seek)
        self.player.durationChanged.connect(self._on_duration)
        self.player.positionChanged.connect(self._on_position)
        self.player.playbackStateChanged.connect(self._update_icon)
        self.player.errorOccurred.connect(self._on_error)
        self._update_icon()

    def play(self, path: str, label: str | None = None, start_fraction: float | None = None) -> None:
        """Play ``path``, shown as ``label`` (its title; the file name when there is none), from ``start_fraction``
        of its length when given."""
        shown = readable(path)
        if not audio_output_available():
            self.player.stop()
            self.current_path = None
            self.play_button.setEnabled(False)
            self.seek_slider.setEnabled(False)
            self.now_playing.setText(self.tr(NO_AUDIO_OUTPUT_TEXT))
            self.failed.emit(self.tr("Cannot play {name}: no audio output (no sound device was found).").format(
                name=label or Path(shown).name))
            return
        self.current_path = path
        self._pending_fraction = start_fraction
        self.now_playing.setText(label or Path(shown).name)
        self.now_playing.setToolTip(shown)
        self._buffer = None
        if is_unicode(path):
            self.player.setSource(QUrl.fromLocalFile(path))
        elif not self._play_from_memory(path):
            self.player.stop()  # not the track before under this one's name
            self.player.setSource(QUrl())
            self.current_path = None
            self.play_button.setEnabled(False)
            self.seek_slider.setEnabled(False)
            return
        self.play_button.setEnabled(True)
        self.seek_slider.setEnabled(True)
        self.player.play()

    def _play_from_memory(self, path: str) -> bool:
        """A file name that is not valid UTF-8 cannot travel through a QUrl: hand Qt the bytes instead. False (and
        said) when the file cannot be read."""
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            self.failed.emit(self.tr("Cannot play {name}: {reason}").format(name=readable(path),
                                                                             reason=error.strerror or error))
            return False
        self._buffer = QBuffer(self)
        self._buffer.setData(QByteArray(data))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.player.setSourceDevice(self._buffer, QUrl.fromLocalFile("preview" + Path(readable(path)).suffix))
        return True

    def toggle(self) -> None:
        if self.current_path is None:
            return
        if self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.player.pause()
        else:
            self.player.play()

    def seek(self, milliseconds: int) -> None:
        self.player.setPosition(max(0, milliseconds))

    def seek_fraction(self, fraction: float) -> None:
        """Jump to ``fraction`` (0-1) of the track; asked before the length is known, it happens when it is."""
        duration = self.player.duration()
        if duration > 0:
            self.seek(int(min(1.0, max(0.0, fraction)) * duration))
        else:
            self._pending_fraction = fraction

    def stop(self) -> None:
        self.player.stop()

    def _begin_seek(self) -> None:
        self._seeking = True

    def _end_seek(self) -> None:
        self._seeking = False
        self.seek(self.seek_slider.value())

    def _on_duration(self, milliseconds: int) -> None:
        self.seek_slider.setRange(0, max(0, milliseconds))
        if milliseconds > 0 and self._pending_fraction is not None:
            fraction, self._pending_fraction = self._pending_fraction, None
            self.seek_fraction(fraction)
        self._on_position(self.player.position())

    def _on_position(self, milliseconds: int) -> None:
        if not self._seeking:
            self.seek_slider.setValue(milliseconds)
        total = track_format.duration_text(self.player.duration() / 1000) or "0:00"
        done = track_format.duration_text(milliseconds / 1000) or "0:00"
        self.time_label.setText(f"{done} / {total}")
        if self.current_path is not None and self.player.duration() > 0:
            self.position_changed.emit(self.current_path, milliseconds / self.player.duration())

    def _update_icon(self) -> None:
        playing = self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def _on_error(self, error: QMediaPlayer.Error, message: str) -> None:
        if error != QMediaPlayer.Error.NoError:
            self.failed.emit(self.tr("Cannot play {name}: {reason}").format(
                name=Path(readable(self.current_path or "")).name, reason=message or error.name))


def is_unicode(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def readable(path: str) -> str:
    """A path as text for labels: undecodable bytes shown as replacement characters."""
    return path if is_unicode(path) else os.fsencode(path).decode("utf-8", errors="replace")
